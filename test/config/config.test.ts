import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { defaultConfig, loadConfig, parseConfig } from "../../src/config/config.js";
import { parseDuration } from "../../src/config/duration.js";
import { ToolwatchError } from "../../src/core/errors.js";

test("durations", () => {
  assert.equal(parseDuration("60s"), 60_000);
  assert.equal(parseDuration("5m"), 300_000);
  assert.equal(parseDuration("30d"), 30 * 86_400_000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration(1500), 1500);
  assert.equal(parseDuration("soon"), null);
});

test("defaults fill everything in", () => {
  const config = defaultConfig();
  assert.equal(config.gateway.port, 8808);
  assert.equal(config.retention, 30 * 86_400_000);
  assert.deepEqual(config.servers, {});
});

test("servers are stdio commands or remote URLs", () => {
  const config = parseConfig(
    [
      "retention: 7d",
      "servers:",
      "  files:",
      "    command: npx",
      "    args: [server-filesystem, /data]",
      "  remote:",
      "    url: https://mcp.example.com/mcp",
    ].join("\n"),
  );
  assert.equal(config.retention, 7 * 86_400_000);
  assert.deepEqual(config.servers.files, { command: "npx", args: ["server-filesystem", "/data"], env: {} });
  assert.deepEqual(config.servers.remote, { url: "https://mcp.example.com/mcp", headers: {} });
});

test("errors name the file, line, column and what was expected", () => {
  const text = ["gateway:", "  port: 8808", "  api_keys:", "    - user: ada", "      key: short"].join("\n");
  assert.throws(
    () => parseConfig(text, "toolwatch.yaml"),
    (error: unknown) =>
      error instanceof ToolwatchError && /^toolwatch\.yaml:5:12 at gateway\.api_keys\.0\.key: /.test(error.message),
  );
  assert.throws(() => parseConfig("retention: forever", "c.yaml"), /c\.yaml:1:12 at retention: expected a duration/);
  assert.throws(() => parseConfig("servers: [\n", "c.yaml"), /^.*c\.yaml:\d+:\d+: /);
  assert.throws(() => parseConfig("unknown_key: 1", "c.yaml"), /c\.yaml:1:1: .*unknown_key/i);
});

test("relative paths in a config file are the file's folder's, whatever the working directory", (context) => {
  const folder = mkdtempSync(join(tmpdir(), "toolwatch-config-"));
  context.after(() => rmSync(folder, { recursive: true, force: true }));
  const file = join(folder, "toolwatch.yaml");
  writeFileSync(
    file,
    [
      "database: data/toolwatch.db",
      "alerts:",
      "  rules: rules/alerts.yaml",
      "policy:",
      "  file: ../shared/policy.yaml",
      "detectors:",
      "  baseline: /srv/baselines/support.json",
      "dlp:",
      "  rules_file: ./dlp-rules.yaml",
    ].join("\n"),
  );
  const config = loadConfig(file);
  assert.equal(config.database, join(folder, "data", "toolwatch.db"));
  assert.equal(config.alerts.rules, join(folder, "rules", "alerts.yaml"));
  assert.equal(config.policy.file, join(folder, "..", "shared", "policy.yaml"));
  assert.equal(config.detectors.baseline, "/srv/baselines/support.json", "an absolute path stays as it is");
  assert.equal(config.dlp.rules_file, join(folder, "dlp-rules.yaml"));

  writeFileSync(file, "database: ':memory:'\n");
  const memory = loadConfig(file);
  assert.equal(memory.database, ":memory:", "SQLite's in-memory name is not a path");
  assert.equal(memory.alerts.rules, undefined, "absent paths stay absent");
  assert.equal("baseline" in memory.detectors, false);
});
