import assert from "node:assert/strict";
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { test } from "node:test";
import type { StoreCounters } from "../../src/core/store.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { temporaryDirectory } from "./store-fixtures.js";

const CHILD = new URL("./append-process.js", import.meta.url);
const PER_PROCESS = 1500;

function start(path: string, label: string, mode: "direct" | "worker"): ChildProcess {
  return fork(CHILD, [path, label, String(PER_PROCESS), mode], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
}

/** The child's next message; fails, instead of waiting forever, when the child exits first. */
function nextMessage(child: ChildProcess): Promise<{ type: string; counters?: StoreCounters }> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`child exited with code ${code} before reporting`));
    child.once("exit", onExit);
    child.once("message", (message) => {
      child.off("exit", onExit);
      resolve(message as { type: string; counters?: StoreCounters });
    });
  });
}

test("two processes appending to one file at once build one valid chain holding every record", async (context) => {
  const path = join(temporaryDirectory(context), "shared.db");
  // Created up front so the children race on appends, not on creating the schema.
  new SqliteStore(path).close();
  const children = [start(path, "direct-writer", "direct"), start(path, "worker-writer", "worker")];
  context.after(() => {
    for (const child of children) child.kill();
  });
  for (const message of await Promise.all(children.map(nextMessage))) assert.equal(message.type, "ready");
  const finished = children.map(async (child) => {
    const done = nextMessage(child);
    const exited = once(child, "exit");
    child.send("go");
    const message = await done;
    const [code] = await exited;
    return { message, code };
  });
  for (const { message, code } of await Promise.all(finished)) {
    assert.equal(code, 0);
    assert.deepEqual(message.counters, { accepted: PER_PROCESS, written: PER_PROCESS, dropped: 0 });
  }

  const store = new SqliteStore(path, { readonly: true });
  context.after(() => store.close());
  const verdict = store.verifyAuditSync();
  assert.deepEqual(verdict, { ok: true, records: 2 * PER_PROCESS, first_seq: 1, last_seq: 2 * PER_PROCESS });
  for (const session of ["direct-writer", "worker-writer"]) {
    const amounts = store.exchangesSync({ session }).map((stored) => stored.exchange.arguments?.amount);
    assert.deepEqual(
      amounts,
      Array.from({ length: PER_PROCESS }, (_, index) => index),
      `every record of ${session}, in order`,
    );
  }
});

test("processes started together on a file that does not exist yet all get one schema and one chain", async (context) => {
  // An MCP client starts all its proxies at once, so they race to create and migrate the same new file.
  const path = join(temporaryDirectory(context), "new", "shared.db");
  const children = Array.from({ length: 4 }, (_, index) =>
    fork(CHILD, [path, `writer-${index}`, "100", index % 2 === 0 ? "direct" : "worker"], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    }),
  );
  context.after(() => {
    for (const child of children) child.kill();
  });
  for (const message of await Promise.all(children.map(nextMessage))) assert.equal(message.type, "ready");
  const codes = await Promise.all(
    children.map(async (child) => {
      const exited = once(child, "exit");
      child.send("go");
      const [code] = await exited;
      return code as number;
    }),
  );
  assert.deepEqual(codes, [0, 0, 0, 0]);
  const store = new SqliteStore(path, { readonly: true });
  context.after(() => store.close());
  assert.deepEqual(store.verifyAuditSync(), { ok: true, records: 400, first_seq: 1, last_seq: 400 });
});
