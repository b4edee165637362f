import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import Database from "better-sqlite3";
import { Command } from "commander";
import { readSilences } from "../../src/alerts/silences.js";
import { registerAlertsCommand } from "../../src/cli/commands/alerts.js";
import { registerAuditCommand } from "../../src/cli/commands/audit.js";
import { localOperator, OperatorAuditTrail } from "../../src/cli/operator-audit.js";
import type { OperatorAction } from "../../src/core/operator-action.js";
import type { Store } from "../../src/core/store.js";
import { openStore } from "../../src/store/index.js";
import { InMemoryStore } from "../../src/store/memory-store.js";
import { SCHEMA_VERSION, SqliteStore } from "../../src/store/sqlite-store.js";
import { makeAction, makeExchange, tableSeqs, temporaryDirectory, timeOf } from "./store-fixtures.js";

/** The action after exchange `index` in {@link fill}: additions by alice, a removal and an approval by bob. */
function actionOf(index: number): OperatorAction {
  if (index === 4) return makeAction(index, { action: "silence.remove", actor: "bob" });
  if (index === 7) {
    return makeAction(index, {
      action: "tool.approve",
      actor: "bob",
      via: "cli",
      target: "mail/read_note",
      detail: { previous_hash: "sha256:aa", approved_hash: "sha256:bb" },
    });
  }
  return makeAction(index);
}

/** Eight exchanges with an action after indexes 1, 4 and 7 (seq 3, 7 and 11): one chain over both tables. */
function fill(store: Store): void {
  for (let index = 0; index < 8; index++) {
    store.appendExchange(makeExchange(index));
    if (index % 3 === 1) store.appendAction(actionOf(index));
  }
}

const ALL_ACTIONS = [1, 4, 7].map(actionOf);

async function assertQueries(store: Store): Promise<void> {
  assert.deepEqual(await store.actions(), ALL_ACTIONS);
  assert.deepEqual(await store.actions({ actor: "bob" }), [actionOf(4), actionOf(7)]);
  assert.deepEqual(await store.actions({ action: "tool.approve" }), [actionOf(7)]);
  assert.deepEqual(await store.actions({ since_ms: timeOf(4), until_ms: timeOf(7) }), [actionOf(4)]);
  assert.deepEqual(await store.actions({ limit: 1 }), [actionOf(1)]);
  assert.deepEqual(await store.verifyAudit(), { ok: true, records: 11, first_seq: 1, last_seq: 11 });
  assert.equal((await store.exchanges()).length, 8);
}

describe("operator actions in the store", () => {
  test("SqliteStore keeps them in the chain's one seq space, and reads them back by action, actor and time", async (context) => {
    const path = join(temporaryDirectory(context), "actions.db");
    const store = new SqliteStore(path, { batchSize: 3 });
    fill(store);
    await assertQueries(store);
    store.close();
    assert.deepEqual(tableSeqs(path, "actions"), [3, 7, 11]);
  });

  test("WorkerStore carries them through the worker", async (context) => {
    const store = openStore(join(temporaryDirectory(context), "worker-actions.db"));
    context.after(() => store.shutdown());
    fill(store);
    await store.forceFlush();
    assert.deepEqual(store.counters(), { accepted: 11, written: 11, dropped: 0 });
    await assertQueries(store);
  });

  test("InMemoryStore keeps them too, and retention removes them with the prefix they belong to", async () => {
    const store = new InMemoryStore();
    fill(store);
    await assertQueries(store);
    assert.equal(await store.applyRetention(timeOf(5)), 7);
    assert.deepEqual(await store.actions(), [actionOf(7)]);
  });

  test("an edited action is named at its seq, and retention anchors past actions like any record", async (context) => {
    const path = join(temporaryDirectory(context), "edited-action.db");
    const store = new SqliteStore(path);
    fill(store);
    store.flush();
    assert.equal(store.applyRetentionSync(timeOf(2)), 3, "seq 1 to 3: two exchanges and the first action");
    assert.deepEqual(store.verifyAuditSync(), { ok: true, records: 8, first_seq: 4, last_seq: 11 });
    store.close();
    // Someone rewrites who approved the tool change.
    const raw = new Database(path);
    raw
      .prepare('UPDATE actions SET record = replace(record, \'"actor":"bob"\', \'"actor":"carol"\') WHERE seq = 11')
      .run();
    raw.close();
    const reader = new SqliteStore(path, { readonly: true });
    const verdict = reader.verifyAuditSync();
    assert.equal(verdict.ok, false);
    assert.equal(verdict.ok === false && verdict.broken_seq, 11);
    reader.close();
  });

  test("a version 3 file reads as having no actions, and opened for writing gains the table and extends the chain", async (context) => {
    const path = join(temporaryDirectory(context), "v3.db");
    const old = new SqliteStore(path);
    for (let index = 0; index < 3; index++) old.appendExchange(makeExchange(index));
    old.close();
    const raw = new Database(path);
    raw.exec("DROP TABLE actions");
    raw.pragma("user_version = 3");
    raw.close();

    const reader = new SqliteStore(path, { readonly: true });
    assert.deepEqual(reader.actionsSync(), []);
    assert.deepEqual(reader.verifyAuditSync(), { ok: true, records: 3, first_seq: 1, last_seq: 3 });
    reader.close();

    const writer = new SqliteStore(path);
    writer.appendAction(makeAction(9));
    writer.flush();
    assert.deepEqual(writer.actionsSync(), [makeAction(9)]);
    assert.deepEqual(writer.verifyAuditSync(), { ok: true, records: 4, first_seq: 1, last_seq: 4 });
    writer.close();
    assert.deepEqual(tableSeqs(path, "actions"), [4]);
    const migrated = new Database(path, { readonly: true });
    assert.equal(migrated.pragma("user_version", { simple: true }), SCHEMA_VERSION);
    migrated.close();
  });
});

/** Runs one `toolwatch` command line through the real command definitions, collecting what it prints. */
async function run(register: (program: Command, io: { stdout: Writable; stderr: Writable }) => void, args: string[]) {
  let out = "";
  const stdout = new Writable({
    write(chunk, _encoding, done) {
      out += String(chunk);
      done();
    },
  });
  const program = new Command().exitOverride();
  register(program, { stdout, stderr: new Writable({ write: (_chunk, _encoding, done) => done() }) });
  await program.parseAsync(args, { from: "user" });
  return out;
}

describe("operator actions from the CLI", () => {
  test("alerts silence and unsilence are recorded with the operating-system user, and audit actions lists them", async (context) => {
    const folder = temporaryDirectory(context);
    const db = join(folder, "toolwatch.db");
    const id = (
      await run(registerAlertsCommand, ["alerts", "silence", "--rule", "dlp_block_spike", "--for", "2h", "--db", db])
    ).trim();
    await run(registerAlertsCommand, ["alerts", "unsilence", id, "--db", db]);

    const listed = await run(registerAuditCommand, ["audit", "actions", "--db", db, "--json"]);
    const actions = listed
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as OperatorAction);
    assert.deepEqual(
      actions.map((action) => [action.action, action.target, action.actor, action.via]),
      [
        ["silence.add", id, localOperator(), "cli"],
        ["silence.remove", id, localOperator(), "cli"],
      ],
    );
    assert.equal((actions[0]!.detail.silence as { rule: string }).rule, "dlp_block_spike");
    assert.equal(actions[0]?.source, undefined, "the CLI has no network source");
    const table = await run(registerAuditCommand, ["audit", "actions", "--db", db, "--action", "silence.remove"]);
    assert.match(table, /silence\.remove/);
    assert.doesNotMatch(table, /silence\.add/);
    await assert.rejects(
      run(registerAuditCommand, ["audit", "actions", "--db", db, "--action", "silence.delete"]),
      /expected one of silence\.add/,
    );
  });

  test("an action that cannot be committed undoes its change and says so", (context) => {
    const path = join(temporaryDirectory(context), "lost-table.db");
    const trail = OperatorAuditTrail.open(path);
    context.after(() => trail.close());
    // Something outside toolwatch breaks the file between the open and the commit.
    const raw = new Database(path);
    raw.exec("DROP TABLE actions");
    raw.close();
    let undone = 0;
    assert.throws(
      () => trail.record("silence.add", "silence-1", {}, () => undone++),
      /silence\.add silence-1 could not be recorded in the audit chain of .*lost-table\.db/,
    );
    assert.equal(undone, 1);
  });

  test("a database whose chain cannot be written stops the silence before it exists", async (context) => {
    const folder = temporaryDirectory(context);
    const silences = join(folder, "silences.json");
    // A path under a regular file: the database can never be created there.
    const blocked = join(folder, "silences.json.lock", "toolwatch.db");
    writeFileSync(join(folder, "silences.json.lock"), "");
    await assert.rejects(
      run(registerAlertsCommand, [
        "alerts",
        "silence",
        "--rule",
        "dlp_block_spike",
        "--for",
        "1h",
        "--db",
        blocked,
        "--silences",
        silences,
      ]),
      /cannot open/,
    );
    assert.deepEqual(readSilences(silences), [], "no silence without its audit record");
  });
});
