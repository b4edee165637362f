/**
 * Learning a deployment's own baseline from what the store recorded, and loading it through the configuration:
 * `toolwatch baseline train --db`, then `detectors.baseline` in the config file, used by replay (and live processes).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseBaselineFile } from "../../src/runtime/baseline-file.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const cli = join(root, "bin", "toolwatch.js");
const capture = join(root, "test", "fixtures", "captures", "patterns", "credential-harvesting-benign.jsonl");
const folder = mkdtempSync(join(tmpdir(), "toolwatch-baseline-store-"));
after(() => rmSync(folder, { recursive: true, force: true }));

test("baseline train --db learns from stored exchanges, and detectors.baseline loads the result", () => {
  const database = join(folder, "toolwatch.db");
  execFileSync(process.execPath, [cli, "replay", capture, "--db", database], { stdio: "pipe" });
  const output = join(folder, "baseline.json");
  const trained = spawnSync(process.execPath, [cli, "baseline", "train", "--db", database, "-o", output], {
    encoding: "utf8",
  });
  assert.equal(trained.status, 0, trained.stderr);
  assert.match(trained.stderr, /learned \d+ events/);
  const parsed = parseBaselineFile(readFileSync(output, "utf8"), output);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.message);
  assert.ok(parsed.value.trained_on.events > 0);
  assert.ok("baseline_sequence" in parsed.value.detectors);

  const config = join(folder, "toolwatch.yaml");
  writeFileSync(config, `detectors:\n  baseline: ${JSON.stringify(output)}\n`);
  const replayed = spawnSync(process.execPath, [cli, "replay", capture, "--config", config], { encoding: "utf8" });
  assert.equal(replayed.status, 0, replayed.stderr);

  writeFileSync(config, `detectors:\n  baseline: ${JSON.stringify(join(folder, "missing.json"))}\n`);
  const broken = spawnSync(process.execPath, [cli, "replay", capture, "--config", config], { encoding: "utf8" });
  assert.notEqual(broken.status, 0);
  assert.match(broken.stderr, /missing\.json/);

  const both = spawnSync(process.execPath, [cli, "baseline", "train", capture, "--db", database, "-o", output], {
    encoding: "utf8",
  });
  assert.equal(both.status, 2);
  assert.match(both.stderr, /capture files or --db/);
});
