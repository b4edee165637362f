/**
 * DLP scan throughput and the cost of `inspect()` on one call's arguments.
 *
 * (a) Throughput: `scanText` over a deterministic, seeded mix of 1 KB to 64 KB documents (prose, JSON,
 *     source code, logs, CSV exports) with a sprinkling of secrets and personal data, in MB/s of UTF-8
 *     on one core. The mix is meant to be hard rather than flattering: code that names `token` three
 *     times per function, logs and CSV with a number every few characters, an e-mail address on every
 *     CSV row and a public client address on some log lines (both are findings).
 *     `JSON.parse` of the same documents (as JSON strings) is measured in the same run as a yardstick of
 *     what this machine does per byte: the ratio compares across machines.
 * (b) `inspect()` on a typical small tools/call arguments object (no match, and one with a secret):
 *     microseconds p50 / p99 over many calls.
 *
 * Times are CPU time of this process over interleaved rounds (the median round). Run:
 * `npx tsc -p . && node dist/bench/dlp.bench.js`.
 */
import { pathToFileURL } from "node:url";
import { defaultDlpSettings } from "../src/defence/dlp/dlp-config.js";
import { DlpEngine } from "../src/defence/dlp/dlp-scanner.js";
import type { BenchResult } from "./bench-result.js";
import { cpuNanoseconds, median } from "./bench-statistics.js";

const ROUNDS = 7;
const DOCUMENTS = 160;

/** A small deterministic generator (mulberry32), so every run scans the same bytes. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const WORDS = (
  "the of and to in is was for on that with as by at from this be are or an have not it which their were has been " +
  "more one its than other into new some time these could two may first then do any like my now over such our even " +
  "most made after did many before must through back years where much your way well down should because each just " +
  "those people how too little state good very make world still own see men work long here get both between life " +
  "being under never day same another know while last might great old year off come since against go came right used " +
  "take three meeting invoice customer account report deploy server request password token review budget schedule"
).split(" ");

const FIRST_NAMES = ["Maria", "James", "Wei", "Fatima", "Olga", "Kwame", "Ana", "Lukas", "Priya", "Tom"];
const LAST_NAMES = ["Garcia", "Smith", "Chen", "Khan", "Ivanova", "Mensah", "Silva", "Becker", "Patel", "Jones"];
const DOMAINS = ["example.com", "mail.example.org", "acme.io", "corp.example.net"];

// Secrets and personal data a document may carry (about one in five documents carries one).
const SPRINKLES = [
  "AKIAZ7VQ3M5XKJ2WN4PB",
  "ghp_R8fK2mQ9xL4vN7pT1wZ6yB3cH5jD0sA8eU2i",
  "xoxb-781236542736-2364535789652-GkwFDQoHqzXDVsC6GzqYUypD",
  "postgres://app:S3cr3t-Pa55@db.internal:5432/orders",
  "jane.doe@example.org",
  "+44 20 7946 0958",
  "4111 1111 1111 1111",
  "GB82 WEST 1234 5698 7654 32",
  'api_key = "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB"',
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
];

/** The kinds of document in the corpus: document `i` is of kind `CORPUS_KINDS[i % 5]`. */
export const CORPUS_KINDS = ["prose", "json", "code", "logs", "csv"] as const;

/** The seeded corpus the throughput figure scans (exported for profiling: `node --cpu-prof`). */
export function buildCorpus(): string[] {
  const random = seededRandom(20_240_501);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const integer = (limit: number): number => Math.floor(random() * limit);
  const sentence = (): string => {
    const length = 6 + integer(14);
    const words: string[] = [];
    for (let index = 0; index < length; index++) words.push(pick(WORDS));
    return `${words.join(" ")}.`;
  };
  const makers: Array<() => string> = [
    sentence,
    () =>
      `${JSON.stringify({ id: integer(1e6), title: sentence(), created: `2024-05-0${1 + integer(9)}T12:${10 + integer(49)}:00Z`, count: integer(1000), done: random() < 0.5, url: `https://example.com/items/${integer(1e5)}` })},`,
    () =>
      `function handle${integer(1000)}(request, response) {\n  const token = request.headers.authorization;\n  if (!token) return response.status(401).send({ error: "missing token" });\n  for (let i = 0; i < items.length; i++) total += items[i].price * 1.2;\n  return response.json({ total, count: items.length });\n}\n`,
    () =>
      `2024-05-01T12:${10 + integer(49)}:${10 + integer(49)}.${integer(999)}Z INFO [worker-${integer(8)}] request id=${integer(1e9).toString(16)} path=/api/v1/users/${integer(1e5)} status=200 duration_ms=${integer(500)} client=${random() < 0.25 ? "81.2" : "10.0"}.${integer(255)}.${integer(255)}\n`,
    // A CSV export: ids, names, an e-mail address on every row, amounts, dates, now and then a phone number.
    () => {
      const first = pick(FIRST_NAMES);
      const last = pick(LAST_NAMES);
      const phone = random() < 0.1 ? `+1 415 555 ${1000 + integer(8999)}` : "";
      return `${integer(1e6)},${first} ${last},${first.toLowerCase()}.${last.toLowerCase()}${integer(100)}@${pick(DOMAINS)},${(integer(1e6) / 100).toFixed(2)},EUR,2024-0${1 + integer(9)}-${10 + integer(18)},${phone},${pick(WORDS)}\n`;
    },
  ];
  const corpus: string[] = [];
  for (let document = 0; document < DOCUMENTS; document++) {
    const size = Math.round(1024 * 64 ** random());
    const make = makers[document % makers.length]!;
    let text = "";
    while (text.length < size) {
      text += `${make()} `;
      if (random() < 0.002) text += ` ${pick(SPRINKLES)} `;
    }
    // Flat strings, as JSON.parse hands them to the scanner.
    corpus.push(JSON.parse(JSON.stringify(text)) as string);
  }
  return corpus;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function inspectMicroseconds(engine: DlpEngine, value: unknown, calls: number): { p50: number; p99: number } {
  const context = { server: "github", tool: "create_issue", direction: "arguments" as const };
  for (let index = 0; index < 2000; index++) engine.inspect(value, context);
  const samples: number[] = [];
  for (let index = 0; index < calls; index++) {
    const start = process.hrtime.bigint();
    engine.inspect(value, context);
    samples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  return { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99) };
}

/** Runs the benchmark. */
export async function benchDlp(): Promise<BenchResult> {
  const engine = new DlpEngine(defaultDlpSettings());
  const corpus = buildCorpus();
  const jsonCorpus = corpus.map((text) => JSON.stringify(text));
  const megabytes = corpus.reduce((sum, text) => sum + Buffer.byteLength(text), 0) / 1e6;
  const byKind = CORPUS_KINDS.map((kind, index) => {
    const texts = corpus.filter((_text, document) => document % CORPUS_KINDS.length === index);
    return { kind, texts, megabytes: texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0) / 1e6 };
  });
  let findings = 0;
  const kindTimes: number[][] = CORPUS_KINDS.map(() => []);
  // One round: every kind in turn, timed apart; the round's time is their sum.
  const scanAll = (): number => {
    findings = 0;
    let total = 0;
    byKind.forEach((group, index) => {
      const time = cpuNanoseconds(() => {
        for (const text of group.texts) findings += engine.scanText(text).length;
      });
      kindTimes[index]!.push(time);
      total += time;
    });
    return total;
  };
  const parseAll = (): void => {
    for (const text of jsonCorpus) JSON.parse(text);
  };
  scanAll();
  parseAll();
  for (const times of kindTimes) times.length = 0;
  const scan: number[] = [];
  const parse: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    scan.push(scanAll());
    parse.push(cpuNanoseconds(parseAll));
  }
  const scanMegabytesPerSecond = megabytes / (median(scan) / 1e9);
  const perKind = Object.fromEntries(
    byKind.map((group, index) => [
      `scan_${group.kind}_megabytes_per_second`,
      Number((group.megabytes / (median(kindTimes[index]!) / 1e9)).toFixed(1)),
    ]),
  );
  const parseMegabytesPerSecond = megabytes / (median(parse) / 1e9);
  const clean = {
    owner: "acme",
    repo: "widgets",
    title: "Crash when saving a draft with an empty title",
    body: "Steps: open the editor, clear the title, press save. Expected a validation message; got a stack trace in the console (see below).\n\nTypeError: cannot read properties of undefined (reading 'trim') at saveDraft (editor.js:212:18)",
    labels: ["bug", "editor"],
  };
  const withSecret = {
    ...clean,
    body: `${clean.body}\nworkaround: export GITHUB_TOKEN=ghp_R8fK2mQ9xL4vN7pT1wZ6yB3cH5jD0sA8eU2i`,
  };
  const cleanTimes = inspectMicroseconds(engine, clean, 20_000);
  const secretTimes = inspectMicroseconds(engine, withSecret, 20_000);
  return {
    name: "dlp",
    metrics: {
      corpus_documents: corpus.length,
      corpus_megabytes: Number(megabytes.toFixed(2)),
      corpus_findings: findings,
      scan_megabytes_per_second: Number(scanMegabytesPerSecond.toFixed(1)),
      json_parse_megabytes_per_second: Number(parseMegabytesPerSecond.toFixed(1)),
      scan_to_json_parse_speed_ratio: Number((scanMegabytesPerSecond / parseMegabytesPerSecond).toFixed(3)),
      ...perKind,
      inspect_clean_arguments_p50_us: Number(cleanTimes.p50.toFixed(2)),
      inspect_clean_arguments_p99_us: Number(cleanTimes.p99.toFixed(2)),
      inspect_secret_arguments_p50_us: Number(secretTimes.p50.toFixed(2)),
      inspect_secret_arguments_p99_us: Number(secretTimes.p99.toFixed(2)),
    },
    targets: {
      scan_megabytes_per_second: { min: 150 },
      inspect_clean_arguments_p50_us: { max: 50 },
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const result = await benchDlp();
  for (const [name, value] of Object.entries(result.metrics)) process.stdout.write(`${name.padEnd(44)} ${value}\n`);
}
