/**
 * What `toolwatch proxy` adds to a tool call: sequential 1 KB `echo` calls from the official SDK
 * client to server-everything (an SDK server), in the same run and interleaved call by call:
 * - direct: the client spawns the server;
 * - relay: through a bare Node line relay (bench/line-relay.ts), the floor for any Node proxy;
 * - proxied_no_store: `toolwatch proxy --no-store` (framing, parsing, recording into the pipeline);
 * - proxied: `toolwatch proxy --db <temporary file>` with inline defence off, the real recording path into
 *   the SQLite store;
 * - defended: the same with every inline check on: a policy (globs, argument constraints, rate limits), DLP on
 *   arguments and results, the poisoning classifier on results, and tool pinning.
 *
 * Targets: on `proxied`, at most 100 µs added at p50 and p99 within 1.5x of direct (issue 2); on `defended`,
 * at most 150 µs added at p50 and p99 within 1.5x of direct (issue 4).
 * Run: `npx tsc -p . && node dist/bench/stdio-proxy.bench.js`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { BenchResult } from "./bench-result.js";
import { percentile } from "./bench-statistics.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const everything = join(root, "node_modules/@modelcontextprotocol/server-everything/dist/index.js");
const toolwatchBin = join(root, "bin/toolwatch.js");
const lineRelay = join(root, "dist/bench/line-relay.js");

const MESSAGE = "x".repeat(1024);

export interface StdioProxyBenchOptions {
  /** Measured calls per mode. */
  calls?: number;
  /** Unmeasured calls per mode first, so that every process is warm. */
  warmup?: number;
  print?: boolean;
}

interface Mode {
  name: "direct" | "relay" | "proxied_no_store" | "proxied" | "defended";
  args: string[];
  client?: Client;
  samples: number[];
}

async function echo(client: Client): Promise<number> {
  const start = performance.now();
  const result = await client.callTool({ name: "echo", arguments: { message: MESSAGE } });
  const elapsed = performance.now() - start;
  if (!Array.isArray(result.content) || result.content.length !== 1) throw new Error("unexpected echo result");
  return elapsed * 1000;
}

/** Runs the comparison and returns microsecond figures; `targets` apply to the `proxied` mode. */
export async function benchStdioProxy(options: StdioProxyBenchOptions = {}): Promise<BenchResult> {
  const { calls = 5000, warmup = 1000, print = false } = options;
  const folder = mkdtempSync(join(tmpdir(), "toolwatch-bench-"));
  const server = [everything, "stdio"];
  const watchOnly = join(folder, "watch-only.yaml");
  writeFileSync(watchOnly, "dlp:\n  enabled: false\npoisoning:\n  enabled: false\npinning:\n  enabled: false\n");
  const defended = writeDefendedConfig(folder);
  const modes: Mode[] = [
    { name: "direct", args: server, samples: [] },
    { name: "relay", args: [lineRelay, process.execPath, ...server], samples: [] },
    {
      name: "proxied_no_store",
      args: [toolwatchBin, "proxy", "--no-store", "--", process.execPath, ...server],
      samples: [],
    },
    {
      name: "proxied",
      args: [
        toolwatchBin,
        "proxy",
        "--config",
        watchOnly,
        "--db",
        join(folder, "bench.db"),
        "--",
        process.execPath,
        ...server,
      ],
      samples: [],
    },
    {
      name: "defended",
      args: [
        toolwatchBin,
        "proxy",
        "--config",
        defended,
        "--db",
        join(folder, "defended.db"),
        "--server",
        "everything",
        "--",
        process.execPath,
        ...server,
      ],
      samples: [],
    },
  ];
  try {
    for (const mode of modes) {
      const client = new Client({ name: "stdio-proxy-bench", version: "1.0.0" });
      await client.connect(new StdioClientTransport({ command: process.execPath, args: mode.args, stderr: "ignore" }));
      mode.client = client;
    }
    for (let index = 0; index < warmup; index++) for (const mode of modes) await echo(mode.client!);
    // Call by call, rotating which mode goes first, so drift and position effects hit every mode alike.
    for (let index = 0; index < calls; index++) {
      for (let offset = 0; offset < modes.length; offset++) {
        const mode = modes[(index + offset) % modes.length]!;
        mode.samples.push(await echo(mode.client!));
      }
    }
  } finally {
    await Promise.all(modes.map((mode) => mode.client?.close()));
    rmSync(folder, { recursive: true, force: true });
  }

  const metrics: Record<string, number> = {};
  for (const mode of modes) {
    const sorted = [...mode.samples].sort((a, b) => a - b);
    metrics[`${mode.name}_p50_us`] = round(percentile(sorted, 0.5));
    metrics[`${mode.name}_p99_us`] = round(percentile(sorted, 0.99));
  }
  metrics.relay_added_p50_us = round(metrics.relay_p50_us! - metrics.direct_p50_us!);
  metrics.no_store_added_p50_us = round(metrics.proxied_no_store_p50_us! - metrics.direct_p50_us!);
  metrics.added_p50_us = round(metrics.proxied_p50_us! - metrics.direct_p50_us!);
  // What toolwatch adds beyond the extra process hop every stdio proxy pays (parsing, recording, the store).
  metrics.over_relay_p50_us = round(metrics.proxied_p50_us! - metrics.relay_p50_us!);
  metrics.p99_ratio = Math.round((metrics.proxied_p99_us! / metrics.direct_p99_us!) * 1000) / 1000;
  // The floor any stdio proxy stands on: a bare line relay pays the same extra process hop and nothing else.
  metrics.relay_p99_ratio = Math.round((metrics.relay_p99_us! / metrics.direct_p99_us!) * 1000) / 1000;
  metrics.defended_added_p50_us = round(metrics.defended_p50_us! - metrics.direct_p50_us!);
  metrics.defence_over_proxied_p50_us = round(metrics.defended_p50_us! - metrics.proxied_p50_us!);
  metrics.defended_p99_ratio = Math.round((metrics.defended_p99_us! / metrics.direct_p99_us!) * 1000) / 1000;
  metrics.calls_per_mode = calls;
  const result: BenchResult = {
    name: "stdio-proxy",
    metrics,
    targets: {
      added_p50_us: { max: 100 },
      p99_ratio: { max: 1.5 },
      defended_added_p50_us: { max: 150 },
      defended_p99_ratio: { max: 1.5 },
    },
  };
  if (print) {
    console.log(`stdio proxy, 1 KB echo to server-everything, ${calls} interleaved calls per mode (µs):`);
    for (const mode of modes) {
      console.log(
        `  ${mode.name.padEnd(17)} p50 ${String(metrics[`${mode.name}_p50_us`]).padStart(7)}   p99 ${String(metrics[`${mode.name}_p99_us`]).padStart(7)}`,
      );
    }
    console.log(
      `  added at p50: relay ${metrics.relay_added_p50_us} µs, proxy without store ${metrics.no_store_added_p50_us} µs, proxy ${metrics.added_p50_us} µs (target ≤ 100)`,
    );
    console.log(`  proxy beyond the bare relay at p50: ${metrics.over_relay_p50_us} µs`);
    console.log(
      `  p99 proxied / direct: ${metrics.p99_ratio} (target ≤ 1.5); the bare relay, same run: ${metrics.relay_p99_ratio}`,
    );
    console.log(
      `  defended (policy, DLP, poisoning, pinning): added at p50 ${metrics.defended_added_p50_us} µs (target ≤ 150), ${metrics.defence_over_proxied_p50_us} µs over the undefended proxy; p99 / direct ${metrics.defended_p99_ratio} (target ≤ 1.5)`,
    );
  }
  return result;
}

/** A configuration with every inline check on, and a policy of realistic size that allows the benchmark's calls. */
function writeDefendedConfig(folder: string): string {
  const policy = join(folder, "policy.yaml");
  const lines = ["version: 1", "default: allow", "policies:"];
  for (let index = 0; index < 10; index++) {
    lines.push(
      `  - name: team-${index}`,
      index === 0 ? "" : `    match: { agent: agent-${index} }`,
      "    tools:",
      `      deny: ["*/delete_${index}*", "shell-${index}/*", "*/drop_*", "admin-${index}/*", "*/exec_${index}"]`,
      "    arguments:",
      '      "everything/echo":',
      '        message: { max_length: 100000, pattern: "^[^<>]*$" }',
      "    rate_limits:",
      '      - { tool: "*", per: session, max: 100000, window: 1m }',
    );
  }
  writeFileSync(policy, `${lines.filter((line) => line !== "").join("\n")}\n`);
  const config = join(folder, "defended.yaml");
  writeFileSync(
    config,
    [
      "policy:",
      `  file: ${JSON.stringify(policy)}`,
      "  watch: false",
      "dlp:",
      "  enabled: true",
      "poisoning:",
      "  enabled: true",
      "pinning:",
      "  enabled: true",
      "",
    ].join("\n"),
  );
  return config;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchStdioProxy({ print: true });
}
