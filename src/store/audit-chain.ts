import * as crypto from "node:crypto";
import { readFileSync } from "node:fs";
import { Blake3Hasher } from "@napi-rs/blake-hash";
import type { AuditVerification } from "../core/store.js";

/**
 * The tamper-evident audit chain shared by every store.
 *
 * Rule: `hash(n) = hex(H(hash(n - 1) || record text(n)))`, where `hash(n - 1)` is the 64-character lowercase
 * hex string of the previous record, the record text is the stored JSON, byte for byte (UTF-8), and `H` is the
 * chain's algorithm, chosen when the database is created and kept for life: SHA-256 on CPUs with SHA-256
 * instructions, BLAKE3 (256-bit output) on others, SHA-256 for files older than schema version 2
 * (docs/adr/0003-audit-chain-hash.md, docs/adr/0004-audit-chain-hash-per-cpu.md). Hashing the stored text (never a re-serialisation) keeps
 * verification independent of JSON key order and lets anyone check a chain with `sqlite3` and `b3sum`
 * (or `sha256sum`). The first record chains from {@link GENESIS_HASH}, or from the retention anchor once older
 * records are deleted.
 */

/** The hash functions a chain can use; a database records its own and keeps it for life. */
export const HASH_ALGORITHMS = ["blake3", "sha256"] as const;
/** One of {@link HASH_ALGORITHMS}. */
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];
/**
 * What a new chain uses unless configured: the cheaper of the two on this CPU. Per ~3 KB record, SHA-256 costs
 * about 2 us where the CPU has SHA-256 instructions and 10 us where it has not; BLAKE3 (native, through
 * `@napi-rs/blake-hash`) about 4 us on both (ADR 4).
 */
export const DEFAULT_HASH_ALGORITHM: HashAlgorithm = preferredHashAlgorithm(readCpuDescription());

/**
 * SHA-256 when `cpu` (the text of Linux's /proc/cpuinfo) lists SHA-256 instructions (x86 `sha_ni`, Arm `sha2`),
 * or on Apple silicon, whose every core has them; BLAKE3 otherwise, unknown CPUs included.
 */
export function preferredHashAlgorithm(
  cpu: string | null,
  platform = process.platform,
  arch = process.arch,
): HashAlgorithm {
  if (platform === "darwin" && arch === "arm64") return "sha256";
  if (cpu === null) return "blake3";
  return /^(?:flags|Features)\s*:.*\b(?:sha_ni|sha2)\b/m.test(cpu) ? "sha256" : "blake3";
}

/** /proc/cpuinfo, or `null` where there is none (not Linux, or a sandbox that hides it). */
function readCpuDescription(): string | null {
  if (process.platform !== "linux") return null;
  try {
    return readFileSync("/proc/cpuinfo", "latin1");
  } catch {
    return null;
  }
}

/** True for a name in {@link HASH_ALGORITHMS}. */
export function isHashAlgorithm(value: unknown): value is HashAlgorithm {
  return (HASH_ALGORITHMS as readonly unknown[]).includes(value);
}

/** The hash the first record of a fresh chain follows. */
export const GENESIS_HASH = "0".repeat(64);

/** A position in the chain: a record's `seq` and its hash. */
export interface ChainPoint {
  seq: number;
  hash: string;
}

/** Where a chain without deletions starts. */
export const GENESIS: ChainPoint = { seq: 0, hash: GENESIS_HASH };

/** One stored record as the verifier needs it. */
export interface ChainRecord {
  seq: number;
  record: string;
  hash: string;
}

// One hasher reset per record: a fresh native object per record costs more than the hashing itself.
// Safe because chainHash runs to completion synchronously; each worker thread loads its own copy of the module.
const blake3 = new Blake3Hasher();

/**
 * Hashes one record onto the chain.
 * @param record the record's JSON text, or its UTF-8 bytes (replay passes the line as read, which saves
 * encoding the string again); both give the same hash.
 */
export function chainHash(previousHash: string, record: string | Uint8Array, algorithm: HashAlgorithm): string {
  if (algorithm === "blake3") {
    blake3.reset();
    blake3.update(previousHash);
    blake3.update(record);
    return blake3.digest("hex");
  }
  return oneShotSha256 === undefined
    ? crypto.createHash("sha256").update(previousHash).update(record).digest("hex")
    : sha256OfConcatenation(oneShotSha256, previousHash, record);
}

/**
 * `crypto.hash` (Node 20.12 and 21.7 on) hashes one buffer without making a `Hash` object: about 0.3 µs less per
 * ~3 KB record than `createHash` with two updates (measured side by side), which is most of what remains beside
 * the hashing itself. Older Node has none and takes the `createHash` path.
 */
type OneShotHash = (algorithm: string, data: Uint8Array, encoding: "hex") => string;
const oneShotSha256: OneShotHash | undefined = (crypto as { hash?: OneShotHash }).hash;

/** Scratch for `previous hash || record`, kept between calls; records beyond its size get a buffer of their own. */
const SCRATCH_BYTES = 256 * 1024;
let scratch: Buffer | undefined;

function sha256OfConcatenation(hash: OneShotHash, previousHash: string, record: string | Uint8Array): string {
  // Both strings are encoded as UTF-8, as `update` would (a previous hash read from a tampered file need not be
  // hex): at most three bytes per UTF-16 unit.
  const room = previousHash.length * 3 + (typeof record === "string" ? record.length * 3 : record.byteLength);
  scratch ??= Buffer.allocUnsafe(SCRATCH_BYTES);
  const buffer = room <= scratch.length ? scratch : Buffer.allocUnsafe(room);
  const prefix = buffer.write(previousHash, 0, "utf8");
  let length: number;
  if (typeof record === "string") {
    length = prefix + buffer.write(record, prefix, "utf8");
  } else {
    buffer.set(record, prefix);
    length = prefix + record.byteLength;
  }
  return hash("sha256", buffer.subarray(0, length), "hex");
}

interface Suspect {
  seq: number;
  storedHash: string;
  computedHash: string;
}

/**
 * Walks a chain one record at a time, in `seq` order, so callers can stream records from disk.
 *
 * `seq` values must be contiguous: toolwatch assigns `seq = previous + 1` under the write lock, so a gap
 * can only mean a deleted record and is reported as a break.
 *
 * When a hash does not match, the verifier looks one record ahead to tell an edited record (the next record
 * still chains from the stored hash) from an altered hash column (the next record chains from the hash the
 * record should have had).
 */
export class ChainVerifier {
  private expectedSeq: number;
  private previousHash: string;
  private records = 0;
  private firstSeq: number | null = null;
  private lastSeq: number | null = null;
  private suspect: Suspect | null = null;
  private verdict: AuditVerification | null = null;

  /**
   * @param anchor the retention anchor, or {@link GENESIS} when nothing was ever deleted.
   * @param algorithm the hash function the chain was written with.
   */
  constructor(
    private readonly anchor: ChainPoint,
    private readonly algorithm: HashAlgorithm,
  ) {
    this.expectedSeq = anchor.seq + 1;
    this.previousHash = anchor.hash;
  }

  /** Feeds the next record; returns the verdict as soon as the chain is known to be broken, otherwise `null`. */
  add(row: ChainRecord): AuditVerification | null {
    if (this.verdict) return this.verdict;
    if (this.suspect) return this.conclude(this.diagnose(this.suspect, row));
    if (row.seq !== this.expectedSeq) return this.conclude(this.sequenceBreak(row.seq));
    const computedHash = chainHash(this.previousHash, row.record, this.algorithm);
    if (computedHash !== row.hash) {
      this.suspect = { seq: row.seq, storedHash: row.hash, computedHash };
      return null;
    }
    this.accept(row.seq, row.hash);
    return null;
  }

  /**
   * Ends the walk. `head` is the last position the writers recorded; records missing after the last one
   * read (a truncated tail) or present beyond it are breaks too.
   */
  finish(head: ChainPoint): AuditVerification {
    if (this.verdict) return this.verdict;
    if (this.suspect) return this.conclude(this.diagnoseAtHead(this.suspect, head));
    const last: ChainPoint = { seq: this.expectedSeq - 1, hash: this.previousHash };
    if (last.seq < head.seq) {
      const missing = last.seq + 1 === head.seq ? `seq ${head.seq}` : `seq ${last.seq + 1}..${head.seq}`;
      return this.conclude({
        seq: last.seq + 1,
        reason: `record deleted (${missing} missing at the end of the chain)`,
      });
    }
    if (last.seq > head.seq) {
      return this.conclude({
        seq: head.seq + 1,
        reason: `record added outside toolwatch (seq ${head.seq + 1} is past the recorded chain head ${head.seq})`,
      });
    }
    if (last.hash !== head.hash) {
      return this.conclude({
        seq: last.seq,
        reason: "chain head hash mismatch (the last record or the head was altered)",
      });
    }
    return { ok: true, records: this.records, first_seq: this.firstSeq, last_seq: this.lastSeq };
  }

  private accept(seq: number, hash: string): void {
    this.records++;
    this.firstSeq ??= seq;
    this.lastSeq = seq;
    this.expectedSeq = seq + 1;
    this.previousHash = hash;
  }

  private sequenceBreak(seq: number): { seq: number; reason: string } {
    if (seq > this.expectedSeq) {
      const missing = seq - 1 === this.expectedSeq ? `seq ${this.expectedSeq}` : `seq ${this.expectedSeq}..${seq - 1}`;
      return { seq: this.expectedSeq, reason: `record deleted (${missing} missing)` };
    }
    if (seq <= this.anchor.seq) {
      return { seq, reason: `record at or before the retention anchor (seq ${this.anchor.seq})` };
    }
    return { seq, reason: "duplicate seq (record inserted outside toolwatch)" };
  }

  private diagnose(suspect: Suspect, next: ChainRecord): { seq: number; reason: string } {
    if (next.seq === suspect.seq + 1) {
      if (chainHash(suspect.storedHash, next.record, this.algorithm) === next.hash) return recordModified(suspect.seq);
      if (chainHash(suspect.computedHash, next.record, this.algorithm) === next.hash) return hashAltered(suspect.seq);
    }
    return hashMismatch(suspect.seq);
  }

  private diagnoseAtHead(suspect: Suspect, head: ChainPoint): { seq: number; reason: string } {
    if (head.seq === suspect.seq) {
      if (head.hash === suspect.storedHash) return recordModified(suspect.seq);
      if (head.hash === suspect.computedHash) return hashAltered(suspect.seq);
    }
    return hashMismatch(suspect.seq);
  }

  private conclude(broken: { seq: number; reason: string }): AuditVerification {
    this.verdict = { ok: false, records: this.records, broken_seq: broken.seq, reason: broken.reason };
    return this.verdict;
  }
}

function recordModified(seq: number): { seq: number; reason: string } {
  return { seq, reason: "record hash mismatch (record was modified)" };
}

function hashAltered(seq: number): { seq: number; reason: string } {
  return { seq, reason: "record hash mismatch (stored hash was altered)" };
}

function hashMismatch(seq: number): { seq: number; reason: string } {
  return { seq, reason: "record hash mismatch (record or an earlier hash was modified)" };
}
