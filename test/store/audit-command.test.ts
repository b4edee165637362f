import assert from "node:assert/strict";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
import Database from "better-sqlite3";
import { DEFAULT_HASH_ALGORITHM } from "../../src/store/audit-chain.js";
import { runAuditVerify } from "../../src/store/audit-command.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { makeExchange, temporaryDirectory } from "./store-fixtures.js";

async function run(path: string): Promise<{ code: number; text: string }> {
  const output = new PassThrough();
  const chunks: Buffer[] = [];
  output.on("data", (chunk: Buffer) => chunks.push(chunk));
  const code = await runAuditVerify(path, output);
  output.end();
  return { code, text: Buffer.concat(chunks).toString("utf8") };
}

function seed(path: string, count: number): void {
  const store = new SqliteStore(path);
  for (let index = 0; index < count; index++) store.appendExchange(makeExchange(index));
  store.close();
}

describe("toolwatch audit verify", () => {
  test("prints the verified range and exits 0", async (context) => {
    const path = join(temporaryDirectory(context), "ok.db");
    seed(path, 12);
    assert.deepEqual(await run(path), {
      code: 0,
      text: `audit chain verified (${DEFAULT_HASH_ALGORITHM}): 12 records (seq 1..12)\n`,
    });
  });

  test("names the first broken record and exits 1", async (context) => {
    const path = join(temporaryDirectory(context), "broken.db");
    seed(path, 12);
    const raw = new Database(path);
    raw.prepare("UPDATE exchanges SET record = replace(record, 'banking', 'b4nking') WHERE seq = 6").run();
    raw.close();
    assert.deepEqual(await run(path), {
      code: 1,
      text: `audit chain (${DEFAULT_HASH_ALGORITHM}) BROKEN at seq 6: record hash mismatch (record was modified)\n`,
    });
  });

  test("names SHA-256 when the file was chained with it", async (context) => {
    const path = join(temporaryDirectory(context), "sha256.db");
    const store = new SqliteStore(path, { hashAlgorithm: "sha256" });
    store.appendExchange(makeExchange(0));
    store.close();
    assert.deepEqual(await run(path), { code: 0, text: "audit chain verified (sha256): 1 records (seq 1..1)\n" });
  });

  test("exits 2 for a missing file or one that is not a toolwatch database, without creating anything", async (context) => {
    const directory = temporaryDirectory(context);
    const missing = await run(join(directory, "missing.db"));
    assert.equal(missing.code, 2);
    assert.match(missing.text, /^cannot open .*missing\.db: no such file\n$/);

    const foreign = join(directory, "foreign.db");
    const raw = new Database(foreign);
    raw.exec("CREATE TABLE unrelated (id INTEGER)");
    raw.close();
    const result = await run(foreign);
    assert.equal(result.code, 2);
    assert.match(result.text, /not a toolwatch database/);
  });
});
