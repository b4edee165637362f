/**
 * The gateway against supergateway (stdio → Streamable HTTP, stateful: one upstream per session),
 * both in front of the same tiny echo server, driven by the same lean HTTP client:
 * (a) p50/p99 latency of sequential 1 KB echo `tools/call`s on one session;
 * (b) calls per second with 16 concurrent sessions for a fixed time.
 *
 * Each gateway runs as its own process, as it would in production; the client runs here.
 * Run: `npx tsc -p . && node dist/bench/http-gateway.bench.js`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BenchResult } from "./bench-result.js";
import { median, percentile } from "./bench-statistics.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const echoServer = join(root, "dist/test/fixtures/gateway/echo-server.js");
const toolwatchBin = join(root, "bin/toolwatch.js");
const supergatewayBin = join(root, "node_modules/supergateway/dist/index.js");

const PAYLOAD = "x".repeat(1024);
const SESSIONS = 16;

export interface HttpGatewayBenchOptions {
  /** Sequential calls measured for latency (after warm-up). */
  latency_calls?: number;
  /** How long the 16-session load runs per target, in milliseconds (split over the rounds). */
  load_ms?: number;
  /** Alternating rounds per measure; the latency samples are pooled, the throughput is the median round. */
  rounds?: number;
  /** Print the table and ratios. */
  print?: boolean;
}

interface Target {
  name: string;
  url: URL;
  process: ChildProcess;
}

interface Measures {
  p50_ms: number;
  p99_ms: number;
  calls_per_second: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One HTTP exchange: status, headers and the whole body. */
function post(
  url: URL,
  body: string,
  session: string | null,
): Promise<{ status: number; session: string | null; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "content-length": Buffer.byteLength(body),
    };
    if (session !== null) headers["mcp-session-id"] = session;
    const outgoing = request(url, { method: "POST", agent, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        const id = response.headers["mcp-session-id"];
        resolve({
          status: response.statusCode ?? 0,
          session: typeof id === "string" ? id : null,
          type: response.headers["content-type"] ?? "",
          body: Buffer.concat(chunks).toString("utf8"),
        });
      });
      response.on("error", reject);
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

/** The JSON-RPC answer in a body that is either JSON or an event stream. */
function answerOf(reply: { type: string; body: string }, id: number): Record<string, unknown> {
  if (reply.type.startsWith("application/json")) return JSON.parse(reply.body) as Record<string, unknown>;
  for (const line of reply.body.split("\n")) {
    if (!line.startsWith("data:")) continue;
    const message = JSON.parse(line.slice(5)) as Record<string, unknown>;
    if (message.id === id) return message;
  }
  throw new Error(`no answer to request ${id} in: ${reply.body.slice(0, 200)}`);
}

class BenchSession {
  private nextId = 1;
  private constructor(
    private readonly url: URL,
    private readonly id: string,
  ) {}

  static async open(url: URL): Promise<BenchSession> {
    const initialize = JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1.0.0" } },
    });
    const reply = await post(url, initialize, null);
    if (reply.status !== 200 || reply.session === null)
      throw new Error(`initialize failed: ${reply.status} ${reply.body}`);
    answerOf(reply, 0);
    const initialized = await post(
      url,
      JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
      reply.session,
    );
    if (initialized.status !== 202) throw new Error(`initialized failed: ${initialized.status}`);
    return new BenchSession(url, reply.session);
  }

  async echo(): Promise<void> {
    const id = this.nextId++;
    const body = `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"text":"${PAYLOAD}"}}}`;
    const reply = await post(this.url, body, this.id);
    if (reply.status !== 200) throw new Error(`call failed: ${reply.status} ${reply.body}`);
    const answer = answerOf(reply, id);
    if (answer.result === undefined) throw new Error(`call failed: ${reply.body}`);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  server.close();
  await once(server, "close");
  return port;
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode}`);
    const reachable = await new Promise<boolean>((resolve) => {
      const probe = request({ host: "127.0.0.1", port, method: "GET", path: "/" }, (response) => {
        response.resume();
        resolve(true);
      });
      probe.on("error", () => resolve(false));
      probe.end();
    });
    if (reachable) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listening on port ${port}`);
}

async function startToolwatch(folder: string): Promise<Target> {
  const configFile = join(folder, "toolwatch.yaml");
  writeFileSync(
    configFile,
    `servers:\n  echo:\n    command: ${JSON.stringify(process.execPath)}\n    args: [${JSON.stringify(echoServer)}]\n`,
  );
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [toolwatchBin, "serve", "--config", configFile, "--db", join(folder, "toolwatch.db"), "--port", String(port)],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let output = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  try {
    await waitForPort(port, child);
  } catch (error) {
    throw new Error(`toolwatch serve did not start: ${(error as Error).message}\n${output}`);
  }
  return { name: "toolwatch", url: new URL(`http://127.0.0.1:${port}/mcp/echo`), process: child };
}

async function startSupergateway(): Promise<Target> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      supergatewayBin,
      "--stdio",
      `${JSON.stringify(process.execPath)} ${JSON.stringify(echoServer)}`,
      "--outputTransport",
      "streamableHttp",
      "--stateful",
      "--port",
      String(port),
      "--logLevel",
      "none",
    ],
    { stdio: ["pipe", "ignore", "inherit"] },
  );
  await waitForPort(port, child);
  return { name: "supergateway", url: new URL(`http://127.0.0.1:${port}/mcp`), process: child };
}

async function stop(target: Target): Promise<void> {
  if (target.process.exitCode !== null) return;
  const exited = once(target.process, "exit");
  target.process.kill("SIGTERM");
  const timer = setTimeout(() => target.process.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Sequential echo calls on one session, timing each. */
async function timeCalls(session: BenchSession, calls: number, into: number[]): Promise<void> {
  for (let index = 0; index < calls; index++) {
    const start = performance.now();
    await session.echo();
    into.push(performance.now() - start);
  }
}

/** Calls per second of `sessions` running back to back for `durationMs`. */
async function loadRound(sessions: BenchSession[], durationMs: number): Promise<number> {
  let calls = 0;
  const start = performance.now();
  const until = start + durationMs;
  await Promise.all(
    sessions.map(async (session) => {
      while (performance.now() < until) {
        await session.echo();
        calls++;
      }
    }),
  );
  return (calls * 1000) / (performance.now() - start);
}

/** Runs the comparison; returns one result per target plus the ratios. */
export async function benchHttpGateway(options: HttpGatewayBenchOptions = {}): Promise<BenchResult[]> {
  const latencyCalls = options.latency_calls ?? 2_000;
  const loadMs = options.load_ms ?? 5_000;
  const rounds = options.rounds ?? 5;
  const folder = mkdtempSync(join(tmpdir(), "toolwatch-bench-"));
  const measures = new Map<string, Measures>();
  const targets: Target[] = [];
  try {
    targets.push(await startToolwatch(folder), await startSupergateway());
    // Both targets stay up and are measured in alternating rounds, so that drift in this machine's
    // speed (shared hosts, other jobs) falls on both alike.
    const single = await Promise.all(targets.map((target) => BenchSession.open(target.url)));
    const latencies = targets.map((): number[] => []);
    for (let index = 0; index < targets.length; index++) await timeCalls(single[index]!, 300, []);
    for (let round = 0; round < rounds; round++) {
      for (let index = 0; index < targets.length; index++) {
        await timeCalls(single[index]!, Math.ceil(latencyCalls / rounds), latencies[index]!);
      }
    }
    const pools = await Promise.all(
      targets.map((target) => Promise.all(Array.from({ length: SESSIONS }, () => BenchSession.open(target.url)))),
    );
    for (const pool of pools) await loadRound(pool, 500);
    const throughputs = targets.map((): number[] => []);
    for (let round = 0; round < rounds; round++) {
      for (let index = 0; index < targets.length; index++) {
        throughputs[index]!.push(await loadRound(pools[index]!, loadMs / rounds));
      }
    }
    targets.forEach((target, index) => {
      const times = latencies[index]!.sort((a, b) => a - b);
      measures.set(target.name, {
        p50_ms: percentile(times, 0.5),
        p99_ms: percentile(times, 0.99),
        calls_per_second: median(throughputs[index]!),
      });
    });
  } finally {
    await Promise.all(targets.map(stop));
    agent.destroy();
    rmSync(folder, { recursive: true, force: true });
  }
  const ours = measures.get("toolwatch")!;
  const theirs = measures.get("supergateway")!;
  const ratios = {
    p50_ratio: ours.p50_ms / theirs.p50_ms,
    p99_ratio: ours.p99_ms / theirs.p99_ms,
    throughput_ratio: ours.calls_per_second / theirs.calls_per_second,
  };
  if (options.print ?? false) {
    const row = (name: string, value: Measures) =>
      `${name.padEnd(14)} p50 ${value.p50_ms.toFixed(3).padStart(8)} ms   p99 ${value.p99_ms.toFixed(3).padStart(8)} ms   ${value.calls_per_second.toFixed(0).padStart(7)} calls/s (${SESSIONS} sessions)`;
    console.log(row("toolwatch", ours));
    console.log(row("supergateway", theirs));
    console.log(
      `ratios: p50 ${ratios.p50_ratio.toFixed(2)}x (target <= 0.80)   p99 ${ratios.p99_ratio.toFixed(2)}x   throughput ${ratios.throughput_ratio.toFixed(2)}x (target >= 1.50)`,
    );
  }
  return [
    { name: "http-gateway/toolwatch", metrics: { ...ours } },
    { name: "http-gateway/supergateway", metrics: { ...theirs } },
    {
      name: "http-gateway/ratios",
      metrics: ratios,
      targets: { p50_ratio: { max: 0.8 }, throughput_ratio: { min: 1.5 } },
    },
  ];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchHttpGateway({ print: true });
}
