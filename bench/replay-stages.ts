/**
 * Where a replay's CPU time goes, stage by stage, on agentdojo/test.jsonl.gz (26k records, 78 MB decompressed).
 *
 * Each stage runs alone over the whole capture on the main thread, on inputs prepared beforehand, so its CPU
 * time (user + system) is its own; the two end-to-end replays at the bottom run the real thing (zlib inflating
 * on libuv's pool, counted too). The gap between the sum of the stages and the end-to-end figure is what the
 * stages cost each other when interleaved: garbage collection of what the store keeps alive, caches, the
 * async iteration between chunks. Rounds are interleaved and the best and the median are printed: on a shared
 * machine the best round is the one other work disturbed least.
 *
 * The chain uses this CPU's default function (docs/adr/0004-audit-chain-hash-per-cpu.md); the other function over
 * the same bytes, and the store as it was first written (SHA-256 over the record string, the string bound for the
 * insert), are measured in the same run for comparison.
 *
 * Run: `npx tsc -p . && node dist/bench/replay-stages.js [rounds]` (pin a core with `taskset -c 0` if you like).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createGunzip, gunzipSync } from "node:zlib";
import type { CapturedExchange } from "../src/core/exchange.js";
import { defaultDetectors } from "../src/detectors/index.js";
import { Pipeline } from "../src/pipeline/pipeline.js";
import { readCaptureBatches } from "../src/record/read-capture.js";
import { replay } from "../src/replay/replay.js";
import { chainHash, DEFAULT_HASH_ALGORITHM, GENESIS_HASH, type HashAlgorithm } from "../src/store/audit-chain.js";
import { SqliteStore } from "../src/store/sqlite-store.js";
import { pendingExchange } from "../src/store/stored-record.js";
import { DATASETS_MISSING, datasetsFolder } from "../test/record/datasets.js";

const datasets = datasetsFolder();
if (datasets === null) {
  process.stderr.write(`replay stages skipped: ${DATASETS_MISSING}\n`);
  process.exit(0);
}
const rounds = Number(process.argv[2] ?? 5);
const file = join(datasets, "agentdojo", "test.jsonl.gz");
const compressed = readFileSync(file);
const decompressed = gunzipSync(compressed);
const lineBytes: Buffer[] = [];
for (
  let start = 0, end = decompressed.indexOf(10);
  end !== -1;
  start = end + 1, end = decompressed.indexOf(10, start)
) {
  if (end > start) lineBytes.push(decompressed.subarray(start, end));
}
const lines = lineBytes.map((bytes) => bytes.toString("utf8"));
const exchanges = lines.map((line) => JSON.parse(line) as CapturedExchange);
const events = lines.length;
const directory = mkdtempSync(join(tmpdir(), "toolwatch-replay-stages-"));
const plainFile = join(directory, "test.jsonl");
writeFileSync(plainFile, decompressed);

let databases = 0;
function databasePath(): string {
  return join(directory, `stage-${databases++}.db`);
}
function removeDatabase(path: string): void {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(`${path}${suffix}`, { force: true });
}

// Prepared once: the store stages measure hashing and SQLite, not building the records (a stage of its own).
const pendingAfter = exchanges.map((exchange, index) => pendingExchange(exchange, lineBytes[index]));
const pendingBefore = exchanges.map((exchange, index) => pendingExchange(exchange, lines[index]));

const OTHER_HASH_ALGORITHM: HashAlgorithm = DEFAULT_HASH_ALGORITHM === "sha256" ? "blake3" : "sha256";
const CHAIN_STAGE = `${DEFAULT_HASH_ALGORITHM} chain over the bytes (this CPU's default)`;
const OTHER_CHAIN_STAGE = `${OTHER_HASH_ALGORITHM} chain over the bytes`;
const STORE_STAGE = `store (${DEFAULT_HASH_ALGORITHM} over bytes + insert + commit)`;
const LIVE_STORE_STAGE = `store as a live writer (WAL, synced)`;

function chainOverBytes(algorithm: HashAlgorithm): undefined {
  let hash = GENESIS_HASH;
  for (const bytes of lineBytes) hash = chainHash(hash, bytes, algorithm);
  return undefined;
}

/**
 * Writes every record in transactions of 1000, as replay does; `before` as toolwatch did at first. `bulkLoad` as
 * `toolwatch replay --db` into a new file does; without it, as a live writer (the proxy's store worker) does.
 * @returns the database, to be removed once the clock has stopped (deleting 90 MB costs the kernel time too).
 */
function storeRun(options: { before: boolean; bulkLoad: boolean }): string {
  const path = databasePath();
  const store = new SqliteStore(path, {
    hashAlgorithm: options.before ? "sha256" : DEFAULT_HASH_ALGORITHM,
    bulkLoad: options.bulkLoad,
  });
  const records = options.before ? pendingBefore : pendingAfter;
  for (let from = 0; from < events; from += 1000) store.writeBatch(records.slice(from, from + 1000));
  store.close();
  return path;
}

interface Stage {
  name: string;
  /** Returns a database to remove after the measurement, if it made one. */
  run: () => undefined | string | Promise<undefined | string>;
  /** Reported as informational, outside the sum of the stages. */
  extra?: boolean;
  endToEnd?: boolean;
}

const stages: Stage[] = [
  {
    name: "inflate (zlib, 1 MiB chunks)",
    run: async () => {
      for await (const _chunk of Readable.from([compressed]).pipe(createGunzip({ chunkSize: 1024 * 1024 }))) {
        // Only the inflating is measured.
      }
      return undefined;
    },
  },
  {
    name: "reader on plain .jsonl (read, split, UTF-8, JSON.parse, check)",
    run: async () => {
      for await (const _batch of readCaptureBatches(plainFile)) {
        // Only the reading is measured.
      }
      return undefined;
    },
    extra: true,
  },
  {
    name: "JSON.parse alone",
    run: () => {
      for (const line of lines) JSON.parse(line);
      return undefined;
    },
  },
  {
    name: "pipeline + detectors, no store",
    run: async () => {
      const pipeline = new Pipeline({ store: null, detectors: defaultDetectors() });
      for (const exchange of exchanges) pipeline.process(exchange);
      await pipeline.shutdown();
      return undefined;
    },
  },
  {
    name: "store record (index columns, Date.parse)",
    run: () => {
      for (let index = 0; index < events; index++) pendingExchange(exchanges[index]!, lineBytes[index]);
      return undefined;
    },
  },
  {
    name: CHAIN_STAGE,
    run: () => chainOverBytes(DEFAULT_HASH_ALGORITHM),
  },
  {
    name: OTHER_CHAIN_STAGE,
    run: () => chainOverBytes(OTHER_HASH_ALGORITHM),
    extra: true,
  },
  {
    name: STORE_STAGE,
    run: () => storeRun({ before: false, bulkLoad: true }),
    extra: true,
  },
  {
    name: LIVE_STORE_STAGE,
    run: () => storeRun({ before: false, bulkLoad: false }),
    extra: true,
  },
  {
    name: "SHA-256 chain over the string (before)",
    run: () => {
      let hash = GENESIS_HASH;
      for (const line of lines) hash = chainHash(hash, line, "sha256");
      return undefined;
    },
    extra: true,
  },
  {
    name: "store, before (SHA-256 over the string + insert of the string + commit)",
    run: () => storeRun({ before: true, bulkLoad: false }),
    extra: true,
  },
  {
    name: "replay end to end, no store",
    run: async () => {
      await replay({ files: [file], progress: null });
      return undefined;
    },
    endToEnd: true,
  },
  {
    name: "replay end to end, with store",
    run: async () => {
      const path = databasePath();
      await replay({ files: [file], db: path, progress: null });
      return path;
    },
    endToEnd: true,
  },
];

const samples = new Map<string, number[]>(stages.map((stage) => [stage.name, []]));
try {
  for (let round = 0; round <= rounds; round++) {
    for (const stage of stages) {
      const before = process.cpuUsage();
      const database = await stage.run();
      const used = process.cpuUsage(before);
      if (database !== undefined) removeDatabase(database);
      // Round 0 warms the code up and is not counted.
      if (round > 0) samples.get(stage.name)!.push((used.user + used.system) / events);
    }
  }
} finally {
  rmSync(directory, { recursive: true, force: true });
}

const best = (name: string): number => Math.min(...samples.get(name)!);
const median = (name: string): number => {
  const sorted = [...samples.get(name)!].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const row = (name: string, bestValue: number, medianValue: number): string =>
  `${name.padEnd(66)} ${bestValue.toFixed(2).padStart(7)} ${medianValue.toFixed(2).padStart(8)}\n`;

const derived = (name: string, minus: string): [number, number] => [
  best(name) - best(minus),
  median(name) - median(minus),
];
const reader = derived("reader on plain .jsonl (read, split, UTF-8, JSON.parse, check)", "JSON.parse alone");
const sqlite = derived(STORE_STAGE, CHAIN_STAGE);
const sqliteLive = derived(LIVE_STORE_STAGE, CHAIN_STAGE);
const sqliteBefore = derived(
  "store, before (SHA-256 over the string + insert of the string + commit)",
  "SHA-256 chain over the string (before)",
);

process.stdout.write(
  `${file}: ${events} records, ${(decompressed.length / events / 1024).toFixed(2)} KiB each on average; CPU time (user + system) per event over ${rounds} rounds\n\n`,
);
process.stdout.write(`${"stage".padEnd(66)} ${"best us".padStart(7)} ${"median".padStart(8)}\n`);
let sumBest = 0;
let sumMedian = 0;
const counted: [string, number, number][] = [
  ["inflate (zlib, 1 MiB chunks)", best("inflate (zlib, 1 MiB chunks)"), median("inflate (zlib, 1 MiB chunks)")],
  ["reader: read, split, UTF-8, check (JSON.parse excluded)", ...reader],
  ["JSON.parse", best("JSON.parse alone"), median("JSON.parse alone")],
  ["pipeline + detectors", best("pipeline + detectors, no store"), median("pipeline + detectors, no store")],
  [
    "store record (index columns, Date.parse)",
    best("store record (index columns, Date.parse)"),
    median("store record (index columns, Date.parse)"),
  ],
  [CHAIN_STAGE, best(CHAIN_STAGE), median(CHAIN_STAGE)],
  ["SQLite: insert (bytes), commit, bulk load", ...sqlite],
];
for (const [name, bestValue, medianValue] of counted) {
  sumBest += bestValue;
  sumMedian += medianValue;
  process.stdout.write(row(name, bestValue, medianValue));
}
process.stdout.write(row("sum of the stages", sumBest, sumMedian));
for (const stage of stages.filter((candidate) => candidate.endToEnd)) {
  process.stdout.write(row(stage.name, best(stage.name), median(stage.name)));
}
process.stdout.write("\nalternatives, same run:\n");
process.stdout.write(row(OTHER_CHAIN_STAGE, best(OTHER_CHAIN_STAGE), median(OTHER_CHAIN_STAGE)));
process.stdout.write(
  row(
    "SHA-256 chain over the string",
    best("SHA-256 chain over the string (before)"),
    median("SHA-256 chain over the string (before)"),
  ),
);
process.stdout.write(row("SQLite: insert (bytes), commit, as a live writer (WAL, synced)", ...sqliteLive));
process.stdout.write(row("SQLite: insert (string), commit, as a live writer, before", ...sqliteBefore));
process.stdout.write(
  `\nbudget for 50,000 events/s on one core: 20.00 us; end to end with the store: ${Math.round(1e6 / best("replay end to end, with store"))} events per CPU second (best round)\n`,
);
// The work no implementation of the issue can skip: the files are gzip, every record is JSON the pipeline reads, and
// the store chains and inserts every record. Its best rounds bound what any replay can reach on this machine.
const inflateBest = best("inflate (zlib, 1 MiB chunks)");
const parseBest = best("JSON.parse alone");
const unavoidable = inflateBest + parseBest + best(CHAIN_STAGE) + sqlite[0];
process.stdout.write(
  `ceiling with the store, were splitting lines, the pipeline and every detector free: inflate + JSON.parse + chain + SQLite = ${unavoidable.toFixed(2)} us, ${Math.round(1e6 / unavoidable)} events per CPU second\n` +
    `ceiling without the store, the same way: inflate + JSON.parse = ${(inflateBest + parseBest).toFixed(2)} us, ${Math.round(1e6 / (inflateBest + parseBest))} events per CPU second\n`,
);
