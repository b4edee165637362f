/** The embedded store: SQLite with a tamper-evident audit chain, written off the proxied call's thread. */
import { DEFAULT_HASH_ALGORITHM, type HashAlgorithm } from "./audit-chain.js";
import { WorkerStore, type WorkerStoreOptions } from "./worker-store.js";

export {
  type ChainPoint,
  type ChainRecord,
  ChainVerifier,
  chainHash,
  DEFAULT_HASH_ALGORITHM,
  GENESIS,
  GENESIS_HASH,
  HASH_ALGORITHMS,
  type HashAlgorithm,
  preferredHashAlgorithm,
} from "./audit-chain.js";
export { runAuditVerify } from "./audit-command.js";
export { SqliteDefenceState } from "./defence-state-store.js";
export { type StoreLog, stderrLog } from "./drop-log.js";
export { InMemoryStore, type InMemoryStoreOptions } from "./memory-store.js";
export {
  DROP_COUNTERS,
  type DropCounterName,
  type DropCounts,
  SCHEMA_VERSION,
  SqliteStore,
  type SqliteStoreOptions,
} from "./sqlite-store.js";
export {
  type PendingRecord,
  pendingAlert,
  pendingExchange,
  pendingFinding,
  type RecordText,
} from "./stored-record.js";
export { WorkerStore, type WorkerStoreOptions } from "./worker-store.js";

/** The audit chain's hash function the `store.hash_algorithm` setting asks for; `auto` is the cheaper on this CPU. */
export function configuredHashAlgorithm(setting: "auto" | HashAlgorithm): HashAlgorithm {
  return setting === "auto" ? DEFAULT_HASH_ALGORITHM : setting;
}

/** Options for {@link openStore}: those of {@link WorkerStore}. */
export type OpenStoreOptions = WorkerStoreOptions;

/**
 * Opens the store the live proxy and gateway use: a {@link WorkerStore} on `path` (created with its parent
 * folders when missing). Throws {@link ToolwatchError} `store_unavailable` when the file cannot be opened.
 */
export function openStore(path: string, options: OpenStoreOptions = {}): WorkerStore {
  return new WorkerStore(path, options);
}
