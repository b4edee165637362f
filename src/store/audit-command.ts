import { existsSync } from "node:fs";
import { describeError } from "./drop-log.js";
import { SqliteStore } from "./sqlite-store.js";

/** Exit codes of `toolwatch audit verify`. */
export const AuditExitCode = { Verified: 0, Broken: 1, CannotOpen: 2 } as const;

/**
 * `toolwatch audit verify`: walks the audit chain of a database and prints one line saying whether it holds.
 * Opens the file read-only, so it can run while proxies are writing.
 * @returns 0 when the chain verifies, 1 when it is broken, 2 when the database cannot be opened.
 */
export async function runAuditVerify(databasePath: string, output: NodeJS.WritableStream): Promise<number> {
  if (!existsSync(databasePath)) {
    output.write(`cannot open ${databasePath}: no such file\n`);
    return AuditExitCode.CannotOpen;
  }
  let store: SqliteStore;
  try {
    store = new SqliteStore(databasePath, { readonly: true });
  } catch (error) {
    output.write(`${describeError(error)}\n`);
    return AuditExitCode.CannotOpen;
  }
  try {
    const verdict = store.verifyAuditSync();
    if (!verdict.ok) {
      output.write(`audit chain (${store.hashAlgorithm}) BROKEN at seq ${verdict.broken_seq}: ${verdict.reason}\n`);
      return AuditExitCode.Broken;
    }
    const range = verdict.first_seq === null ? "" : ` (seq ${verdict.first_seq}..${verdict.last_seq})`;
    output.write(`audit chain verified (${store.hashAlgorithm}): ${verdict.records} records${range}\n`);
    return AuditExitCode.Verified;
  } catch (error) {
    output.write(`cannot read ${databasePath}: ${describeError(error)}\n`);
    return AuditExitCode.CannotOpen;
  } finally {
    store.close();
  }
}
