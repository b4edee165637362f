/**
 * Cost of the poisoning classifier on tool results, the figure that matters on the inline hot path.
 *
 * (a) `inspect(text, "result")` on 1 KB, 4 KB and 16 KB results: microseconds p50 / p99 over many calls,
 *     each size over a rotating set of deterministic documents (e-mail-like prose, YAML records, markdown
 *     tables, README steps, and MCP-shaped output: JSON records, logs, listings, code), a fifth of them
 *     carrying an injected request.
 *     These run with the verdict memo off: they are the cost of a text never seen before.
 * (b) Throughput over the whole set, in MB/s of UTF-8 on one core, with `JSON.parse` of the same texts
 *     (wrapped as a tool result) measured in the same run as a yardstick: the ratio compares across machines.
 * (c) Replay-like: every tool result of agentdojo's `test.jsonl.gz` (when the shared data sets are present)
 *     inspected in capture order by one classifier with the memo on, as the poisoning detector does in
 *     `toolwatch replay`; events per second, with `JSON.parse` of each event's capture line (what reading a
 *     capture costs at the least) in the same run as a yardstick, and the memo's hit rate. The same results
 *     with the memo off give the cold figure.
 *
 * Run: `npx tsc -p . && node dist/bench/poisoning.bench.js`.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { benignDataText } from "../src/defence/poisoning/benign-data-text.js";
import { PoisoningClassifier } from "../src/defence/poisoning/poisoning-classifier.js";
import {
  benignInstructionText,
  embedInjection,
  Random,
  syntheticInjection,
} from "../src/defence/poisoning/synthetic-text.js";
import { readCapture } from "../src/record/read-capture.js";
import { datasetsFolder } from "../test/record/datasets.js";
import type { BenchResult } from "./bench-result.js";

const VARIANTS = 40;
const SIZES = [1024, 4096, 16384];

function record(random: Random): string {
  return [
    `- id_: '${random.integer(1000)}'`,
    `  sender: user${random.integer(99)}@example.com`,
    `  subject: Weekly report ${random.integer(52)}`,
    `  body: ${benignInstructionText(random).replace(/\n/g, " ")}`,
    `  timestamp: 2024-05-${10 + random.integer(18)} 10:${10 + random.integer(49)}:00`,
    "  read: true",
  ].join("\n");
}

function tableRows(random: Random): string {
  const rows = ["| Name | Team | Goals | Assists |", "| --- | --- | --- | --- |"];
  for (let index = 0; index < 8; index++) {
    rows.push(
      `| Player ${random.integer(500)} | FC ${random.integer(40)} | ${random.integer(30)} | ${random.integer(20)} |`,
    );
  }
  return rows.join("\n");
}

/** Deterministic documents of about `size` characters. */
function documents(size: number): string[] {
  const random = new Random(size);
  const result: string[] = [];
  for (let variant = 0; variant < VARIANTS; variant++) {
    let text = "";
    while (text.length < size) {
      const roll = random.integer(4);
      const part =
        roll === 0
          ? record(random)
          : roll === 1
            ? tableRows(random)
            : roll === 2
              ? benignInstructionText(random)
              : benignDataText(random);
      text += `${part}\n`;
    }
    text = text.slice(0, size);
    if (variant % 5 === 0) text = embedInjection(random, text, syntheticInjection(random)).text;
    // Flat strings, as JSON.parse hands them to the classifier.
    result.push(JSON.parse(JSON.stringify(text)) as string);
  }
  return result;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function inspectMicroseconds(
  classifier: PoisoningClassifier,
  texts: string[],
  calls: number,
): { p50: number; p99: number } {
  for (let index = 0; index < 500; index++) classifier.inspect(texts[index % texts.length]!, "result");
  const samples: number[] = [];
  for (let index = 0; index < calls; index++) {
    const text = texts[index % texts.length]!;
    const start = process.hrtime.bigint();
    classifier.inspect(text, "result");
    samples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  return { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99) };
}

/** Runs the benchmark. */
export async function benchPoisoning(): Promise<BenchResult> {
  const classifier = new PoisoningClassifier({ memo: false });
  const metrics: Record<string, number> = {};
  const targets: BenchResult["targets"] = {};
  let bytes = 0;
  let microseconds = 0;
  let parseMicroseconds = 0;
  for (const size of SIZES) {
    const texts = documents(size);
    const calls = Math.max(500, Math.round(2_000_000 / size));
    const times = inspectMicroseconds(classifier, texts, calls);
    const kilobytes = size / 1024;
    metrics[`inspect_${kilobytes}kb_p50_us`] = Number(times.p50.toFixed(2));
    metrics[`inspect_${kilobytes}kb_p99_us`] = Number(times.p99.toFixed(2));
    metrics[`inspect_${kilobytes}kb_p50_us_per_kb`] = Number((times.p50 / kilobytes).toFixed(2));
    targets[`inspect_${kilobytes}kb_p50_us_per_kb`] = { max: 50 };
    const started = process.hrtime.bigint();
    for (const text of texts) classifier.inspect(text, "result");
    microseconds += Number(process.hrtime.bigint() - started) / 1000;
    bytes += texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0);
    // JSON.parse of the same texts, as a yardstick of what this (shared, noisy) machine does per byte.
    const encoded = texts.map((text) => JSON.stringify({ content: [{ type: "text", text }] }));
    const parseStarted = process.hrtime.bigint();
    for (const json of encoded) JSON.parse(json);
    parseMicroseconds += Number(process.hrtime.bigint() - parseStarted) / 1000;
  }
  metrics.megabytes_per_second = Number((bytes / microseconds).toFixed(1));
  metrics.json_parse_megabytes_per_second = Number((bytes / parseMicroseconds).toFixed(1));
  metrics.inspect_to_json_parse_speed_ratio = Number((parseMicroseconds / microseconds).toFixed(3));
  Object.assign(metrics, await replayLike());
  return { name: "poisoning", metrics, targets };
}

/** The agentdojo test capture's events, each with its capture line and its result text (if any). */
async function agentdojoEvents(): Promise<{ lines: string[]; results: string[] } | null> {
  const folder = datasetsFolder();
  if (folder === null) return null;
  const lines: string[] = [];
  const results: string[] = [];
  for await (const record of readCapture(join(folder, "agentdojo", "test.jsonl.gz"))) {
    lines.push(JSON.stringify(record.exchange));
    if (typeof record.exchange.result === "string" && record.exchange.result.length > 0) {
      results.push(record.exchange.result);
    }
  }
  return { lines, results };
}

/** Events per second of `inspect` over a replay of agentdojo's test results, memo on and off. */
async function replayLike(): Promise<Record<string, number>> {
  const events = await agentdojoEvents();
  if (events === null) {
    process.stderr.write("poisoning bench: replay-like figure skipped (shared data sets not found)\n");
    return {};
  }
  const { lines, results } = events;
  const seconds = (run: () => void): number => {
    const started = process.hrtime.bigint();
    run();
    return Number(process.hrtime.bigint() - started) / 1e9;
  };
  const parseSeconds = seconds(() => {
    for (const line of lines) JSON.parse(line);
  });
  let memoised = new PoisoningClassifier();
  const memoSeconds: number[] = [];
  for (let round = 0; round < 3; round++) {
    memoised = new PoisoningClassifier();
    memoSeconds.push(
      seconds(() => {
        for (const text of results) memoised.inspect(text, "result");
      }),
    );
  }
  const cold = new PoisoningClassifier({ memo: false });
  const coldSeconds = seconds(() => {
    for (const text of results) cold.inspect(text, "result");
  });
  const memoMedian = [...memoSeconds].sort((a, b) => a - b)[1]!;
  const stats = memoised.memoStats();
  const characters = results.reduce((sum, text) => sum + text.length, 0);
  return {
    replay_events: lines.length,
    replay_results: results.length,
    replay_result_megacharacters: Number((characters / 1e6).toFixed(1)),
    replay_memo_events_per_second: Math.round(lines.length / memoMedian),
    replay_memo_us_per_event: Number(((memoMedian * 1e6) / lines.length).toFixed(2)),
    replay_memo_hit_rate: Number((stats.hits / (stats.hits + stats.misses)).toFixed(3)),
    replay_memo_entries: stats.entries,
    replay_memo_megacharacters: Number((stats.characters / 1e6).toFixed(1)),
    replay_cold_us_per_event: Number(((coldSeconds * 1e6) / lines.length).toFixed(2)),
    replay_json_parse_events_per_second: Math.round(lines.length / parseSeconds),
    replay_memo_to_json_parse_speed_ratio: Number((parseSeconds / memoMedian).toFixed(3)),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const result = await benchPoisoning();
  for (const [name, value] of Object.entries(result.metrics)) process.stdout.write(`${name.padEnd(44)} ${value}\n`);
}
