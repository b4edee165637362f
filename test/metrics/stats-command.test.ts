import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Command } from "commander";
import { registerStatsCommand } from "../../src/cli/commands/stats.js";
import { collectStats, formatStats, type StoredStats } from "../../src/runtime/stored-stats.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { call, START_MS } from "./synthetic-exchanges.js";

const IBAN = "US133000000121212121212";

function storeWithTraffic(): { file: string; cleanup: () => void } {
  const folder = mkdtempSync(join(tmpdir(), "toolwatch-stats-"));
  const file = join(folder, "toolwatch.db");
  const store = new SqliteStore(file);
  const exchanges = [
    call({ at: 0, session: "a", tool: "read_file", result: `rent to ${IBAN}`, duration_ms: 200 }),
    call({ at: 30_000, session: "a", tool: "send_money", arguments: { recipient: IBAN }, duration_ms: 400 }),
    call({ at: 60_000, session: "a", tool: "send_money", error: { type: "tool_error", message: "no funds" } }),
    call({
      at: 90_000,
      session: "b",
      tool: "send_money",
      error: { type: "timeout", message: "late" },
      duration_ms: 30_000,
    }),
    call({
      at: 120_000,
      session: "b",
      tool: "read_file",
      decisions: [{ stage: "dlp", action: "block", reason: "IBAN" }],
    }),
    call({
      at: 7_200_000,
      session: "c",
      tool: "get_balance",
      decisions: [{ stage: "policy", action: "deny", reason: "x" }],
    }),
  ];
  for (const exchange of exchanges) store.appendExchange(exchange);
  store.close();
  return { file, cleanup: () => rmSync(folder, { recursive: true, force: true }) };
}

test("stats read from the store give per-tool, per-server and per-session figures", async () => {
  const { file, cleanup } = storeWithTraffic();
  const store = new SqliteStore(file, { readonly: true });
  try {
    const stats = await collectStats((query) => store.exchangesSync(query));
    assert.equal(stats.exchanges, 6);
    assert.equal(stats.first_ms, START_MS);
    const send = stats.snapshot.tools.find((row) => row.tool === "send_money")!;
    assert.deepEqual([send.calls, send.tool_errors, send.server_errors, send.flow_bytes], [3, 1, 1, IBAN.length]);
    assert.equal(stats.snapshot.total.dlp_blocks, 1);
    assert.equal(stats.snapshot.total.policy_denials, 1);
    const sessions = stats.snapshot.sessions;
    assert.equal(sessions.ended, 3);
    assert.equal(sessions.open, 0);
    assert.equal(sessions.calls.max, 3);
    assert.equal(sessions.duration_seconds.max, 60.1);

    const since = await collectStats((query) => store.exchangesSync(query), { since_ms: START_MS + 100_000 });
    assert.equal(since.exchanges, 2);
    assert.equal(since.since_ms, START_MS + 100_000);

    const table = formatStats(stats);
    assert.match(table, /^6 exchanges, 2026-03-02T08:00:00\.000Z to 2026-03-02T10:00:00\.000Z$/m);
    assert.match(table, /^bank\s+send_money\s+3\s+\S+\s+33\.3%\s+33\.3%/m);
    assert.match(table, /^bank\s+\(all tools\)\s+6\s/m);
    assert.match(table, /^ {2}sessions\s+3$/m);
    assert.match(table, /^ {2}cross-tool flow\s+23 bytes in all/m);
    assert.match(table, /^ {2}banking\s+sessions 3/m);
  } finally {
    store.close();
    cleanup();
  }
});

test("`toolwatch stats --db FILE --json` prints the figures as JSON", async () => {
  const { file, cleanup } = storeWithTraffic();
  const program = new Command().exitOverride();
  registerStatsCommand(program);
  let output = "";
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    output += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(["node", "toolwatch", "stats", "--db", file, "--json"]);
  } finally {
    process.stdout.write = write;
    cleanup();
  }
  const stats = JSON.parse(output) as StoredStats;
  assert.equal(stats.exchanges, 6);
  assert.equal(stats.snapshot.total.calls, 6);
  assert.equal(stats.snapshot.window_ms, null);
});

test("an empty store prints a table without rows", async () => {
  const stats = await collectStats(() => []);
  assert.equal(stats.exchanges, 0);
  assert.match(formatStats(stats), /^0 exchanges, no exchanges$/m);
});
