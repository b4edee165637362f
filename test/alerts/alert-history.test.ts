import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, type TestContext, test } from "node:test";
import { Command } from "commander";
import { registerAlertsCommand } from "../../src/cli/commands/alerts.js";
import { defaultConfig } from "../../src/config/config.js";
import type { AlertEvent } from "../../src/core/notifier.js";
import type { Store } from "../../src/core/store.js";
import { createLiveRuntime } from "../../src/runtime/live-runtime.js";
import { openStore } from "../../src/store/index.js";
import { InMemoryStore } from "../../src/store/memory-store.js";
import { refusedRequest } from "./alert-test-helpers.js";

const SOURCE = "198.51.100.7";

/**
 * Runs six refused requests from one address inside 30 s through a live runtime built from the default
 * configuration, so the shipped `auth_failure_burst` rule fires. Times are recent: the runtime's wall-clock
 * ticks would otherwise treat the alert as long over.
 */
function liveBurst(context: TestContext, store: Store): { start: number; shutdown: () => Promise<void> } {
  const runtime = createLiveRuntime({ config: defaultConfig(), store });
  context.after(() => runtime.shutdown());
  const start = Date.now() - 15_000;
  for (const second of [0, 2, 4, 6, 8, 10]) runtime.pipeline.process(refusedRequest(start + second * 1000, SOURCE));
  return { start, shutdown: () => runtime.shutdown() };
}

function firingBurst(events: readonly AlertEvent[]): AlertEvent[] {
  return events.filter((event) => event.rule === "auth_failure_burst" && event.state === "firing");
}

describe("alert state changes from live traffic", () => {
  test("the live runtime stores the firing event with the values that caused it", async (context) => {
    const store = new InMemoryStore();
    const { start } = liveBurst(context, store);
    const firing = firingBurst(await store.alerts());
    assert.equal(firing.length, 1);
    const [event] = firing;
    assert.equal(event!.time, new Date(start + 10_000).toISOString());
    assert.equal(event!.labels.source, SOURCE);
    assert.equal(event!.severity, "critical");
    assert.equal(event!.values.value, 6);
    assert.equal(event!.values.threshold, 5);
    // Stored in the chain after the exchange that tripped it.
    assert.deepEqual(await store.verifyAudit(), { ok: true, records: 7, first_seq: 1, last_seq: 7 });
    assert.deepEqual(await store.alerts({ rule: "auth_failure_burst", state: "firing" }), firing);
  });
});

describe("silences reach the live runtime", () => {
  test("a silence written by `toolwatch alerts silence` after start holds the next firing back", async (context) => {
    const folder = mkdtempSync(join(tmpdir(), "toolwatch-silence-live-"));
    context.after(() => rmSync(folder, { recursive: true, force: true }));
    const silences = join(folder, "toolwatch.silences.json");
    const config = defaultConfig();
    config.alerts.evaluation_interval = 20;
    const store = new InMemoryStore();
    // The runtime starts before the file exists, as a proxy does before anyone silences anything.
    const runtime = createLiveRuntime({ config, store, silencesFile: silences });
    context.after(() => runtime.shutdown());

    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    const program = new Command().exitOverride();
    registerAlertsCommand(program, { stdout, stderr: new PassThrough() });
    await program.parseAsync(
      [
        "alerts",
        "silence",
        "--rule",
        "auth_failure_burst",
        "--group",
        `source=${SOURCE}`,
        "--for",
        "1h",
        "--silences",
        silences,
      ],
      { from: "user" },
    );
    const id = Buffer.concat(chunks).toString("utf8").trim();
    assert.match(id, /^[0-9a-f]{12}$/);
    // One tick reads the changed file.
    await new Promise((resolve) => setTimeout(resolve, 100));

    const start = Date.now() - 15_000;
    for (const second of [0, 2, 4, 6, 8, 10]) runtime.pipeline.process(refusedRequest(start + second * 1000, SOURCE));
    const firing = firingBurst(await store.alerts());
    assert.equal(firing.length, 1, "the alert still changes state and is recorded");
    assert.equal(firing[0]!.silenced_by, id, "but it is silenced, so no notifier hears of it");
  });

  test("without a silence the same burst is not silenced", async (context) => {
    const store = new InMemoryStore();
    liveBurst(context, store);
    const firing = firingBurst(await store.alerts());
    assert.equal(firing.length, 1);
    assert.equal(firing[0]!.silenced_by, undefined);
  });
});

describe("toolwatch alerts list", () => {
  async function list(arguments_: string[]): Promise<string> {
    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    const program = new Command().exitOverride();
    registerAlertsCommand(program, { stdout, stderr: new PassThrough() });
    await program.parseAsync(["alerts", "list", ...arguments_], { from: "user" });
    return Buffer.concat(chunks).toString("utf8");
  }

  test("prints what the live proxy stored, as JSON lines or a table, filtered by rule and time", async (context) => {
    const folder = mkdtempSync(join(tmpdir(), "toolwatch-alerts-"));
    context.after(() => rmSync(folder, { recursive: true, force: true }));
    const path = join(folder, "toolwatch.db");
    const { start, shutdown } = liveBurst(context, openStore(path));
    await shutdown();

    const lines = (await list(["--db", path, "--json"])).trim().split("\n");
    const events = lines.map((line) => JSON.parse(line) as AlertEvent);
    const [firing] = firingBurst(events);
    assert.ok(firing, `no firing auth_failure_burst in ${lines.join("\n")}`);
    assert.equal(firing.time, new Date(start + 10_000).toISOString());
    assert.equal(firing.values.value, 6);

    assert.deepEqual(
      (await list(["--db", path, "--json", "--rule", "auth_failure_burst", "--since", "1h"])).trim().split("\n"),
      lines.filter((line) => (JSON.parse(line) as AlertEvent).rule === "auth_failure_burst"),
    );
    assert.equal(await list(["--db", path, "--json", "--rule", "no_such_rule"]), "");
    assert.equal(await list(["--db", path, "--rule", "no_such_rule"]), "no alert state changes stored\n");

    const table = (await list(["--db", path, "--rule", "auth_failure_burst"])).split("\n");
    assert.match(table[0]!, /^TIME\s+RULE\s+STATE\s+SEVERITY\s+GROUP\s+VALUES$/);
    const row = table.find((line) => line.includes(" firing "));
    assert.ok(row);
    assert.match(row, new RegExp(`^${firing.time}\\s+auth_failure_burst\\s+firing\\s+critical\\s+\\S*${SOURCE}`));
    assert.match(row, /value=6 .*threshold=5/);
  });

  test("a missing database is a usage error", async (context) => {
    const folder = mkdtempSync(join(tmpdir(), "toolwatch-alerts-"));
    context.after(() => rmSync(folder, { recursive: true, force: true }));
    await assert.rejects(list(["--db", join(folder, "missing.db")]), {
      name: "ToolwatchError",
      message: /no database/,
    });
  });
});
