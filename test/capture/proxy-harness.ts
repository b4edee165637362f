/** Shared helpers for the stdio proxy tests: fixture paths, an in-memory store, an in-process proxy. */

import { once } from "node:events";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { ReadBuffer, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { Transport as SdkTransport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { StdioProxy, type StdioProxyOptions } from "../../src/capture/stdio-proxy.js";
import { StdioUpstream } from "../../src/capture/stdio-upstream.js";
import { defaultConfig } from "../../src/config/config.js";
import type { CapturedExchange } from "../../src/core/exchange.js";
import type { Finding } from "../../src/core/finding.js";
import type { InlineGuard } from "../../src/core/guard.js";
import type { AlertEvent } from "../../src/core/notifier.js";
import type { OperatorAction } from "../../src/core/operator-action.js";
import type { AuditVerification, Store, StoreCounters, StoredExchange } from "../../src/core/store.js";
import { Pipeline } from "../../src/pipeline/pipeline.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));

export const paths = {
  root,
  cli: `${root}bin/toolwatch.js`,
  testServer: `${root}dist/test/fixtures/stdio-test-server.js`,
  fuzzPeer: `${root}dist/test/fixtures/fuzz-peer.js`,
  everything: `${root}node_modules/@modelcontextprotocol/server-everything/dist/index.js`,
  filesystem: `${root}node_modules/@modelcontextprotocol/server-filesystem/dist/index.js`,
  memory: `${root}node_modules/@modelcontextprotocol/server-memory/dist/index.js`,
};

/** Keeps everything in memory, as the SQLite store would keep it on disk. */
export class MemoryStore implements Store {
  readonly exchangeRecords: CapturedExchange[] = [];
  readonly findingRecords: Finding[] = [];
  readonly alertRecords: AlertEvent[] = [];
  readonly actionRecords: OperatorAction[] = [];

  appendExchange(exchange: CapturedExchange): void {
    this.exchangeRecords.push(exchange);
  }

  appendFinding(finding: Finding): void {
    this.findingRecords.push(finding);
  }

  appendAlert(event: AlertEvent): void {
    this.alertRecords.push(event);
  }

  appendAction(action: OperatorAction): void {
    this.actionRecords.push(action);
  }

  counters(): StoreCounters {
    const count =
      this.exchangeRecords.length + this.findingRecords.length + this.alertRecords.length + this.actionRecords.length;
    return { accepted: count, written: count, dropped: 0 };
  }

  async exchanges(): Promise<StoredExchange[]> {
    return this.exchangeRecords.map((exchange, index) => ({ seq: index + 1, exchange, hash: "" }));
  }

  async findings(): Promise<Finding[]> {
    return [...this.findingRecords];
  }

  async alerts(): Promise<AlertEvent[]> {
    return [...this.alertRecords];
  }

  async actions(): Promise<OperatorAction[]> {
    return [...this.actionRecords];
  }

  async verifyAudit(): Promise<AuditVerification> {
    return { ok: true, records: this.exchangeRecords.length, first_seq: null, last_seq: null };
  }

  async applyRetention(): Promise<number> {
    return 0;
  }

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {}
}

/** Reads newline-framed output as it arrives and lets a test wait for the line it expects. */
export class LineReader {
  readonly lines: Buffer[] = [];
  private pending: Buffer[] = [];
  private waiters: Array<{ from: number; test: (line: Buffer) => boolean; resolve: (line: Buffer) => void }> = [];

  constructor(stream: NodeJS.ReadableStream) {
    stream.on("data", (chunk: Buffer) => this.push(chunk));
  }

  private push(chunk: Buffer): void {
    let start = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
      this.pending.push(chunk.subarray(start, newline));
      this.lines.push(Buffer.concat(this.pending));
      this.pending = [];
      start = newline + 1;
      this.wake();
    }
    if (start < chunk.length) this.pending.push(Buffer.from(chunk.subarray(start)));
  }

  private wake(): void {
    const line = this.lines[this.lines.length - 1]!;
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.test(line)) return true;
      waiter.resolve(line);
      return false;
    });
  }

  /** The first line, from now on or already read, that passes `test`. */
  wait(test: (line: Buffer) => boolean, includeRead = true): Promise<Buffer> {
    if (includeRead) {
      const found = this.lines.find(test);
      if (found !== undefined) return Promise.resolve(found);
    }
    return new Promise((resolve) => this.waiters.push({ from: this.lines.length, test, resolve }));
  }

  /** The first message (parsed) that passes `test`. */
  async message(test: (message: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const line = await this.wait((candidate) => {
      try {
        return test(JSON.parse(candidate.toString("utf8")) as Record<string, unknown>);
      } catch {
        return false;
      }
    });
    return JSON.parse(line.toString("utf8")) as Record<string, unknown>;
  }

  /** The response (result or error) with this id. */
  response(id: string | number | null): Promise<Record<string, unknown>> {
    return this.message((message) => message.id === id && ("result" in message || "error" in message));
  }
}

export interface HarnessOptions {
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  capture?: Partial<StdioProxyOptions["capture"]>;
  max_pending_requests?: number;
  kill_grace_ms?: number;
  /** Inline defence for the proxy. */
  guard?: InlineGuard;
}

/** A StdioProxy running in this process, its client side on in-memory streams and its records in memory. */
export interface Harness {
  proxy: StdioProxy;
  upstream: StdioUpstream;
  /** What the client writes to the proxy. */
  input: PassThrough;
  /** What the proxy writes to the client. */
  output: PassThrough;
  reader: LineReader;
  store: MemoryStore;
  pipeline: Pipeline;
  records: CapturedExchange[];
  /** Proxy messages logged (stderr in production). */
  logs: string[];
  /** Resolves with the exit status once the session ends. */
  done: Promise<number>;
  /** Writes a line: objects as JSON, strings and bytes as they are. */
  send(line: unknown): void;
  /** Sends a request and waits for its answer. */
  call(id: string | number, method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
}

export function startProxy(options: HarnessOptions = {}): Harness {
  const config = defaultConfig();
  const store = new MemoryStore();
  const pipeline = new Pipeline({ store });
  const input = new PassThrough();
  const output = new PassThrough();
  const reader = new LineReader(output);
  const logs: string[] = [];
  const capture = { ...config.capture, ...options.capture };
  const upstream = new StdioUpstream({
    command: options.command ?? process.execPath,
    args: options.args ?? [paths.testServer],
    env: options.env,
    limits: { max_message_bytes: capture.max_message_bytes, max_depth: capture.max_depth },
    kill_grace_ms: options.kill_grace_ms,
  });
  const proxy = new StdioProxy({
    upstream,
    pipeline,
    identity: {
      session: "test-session",
      user: "tester",
      agent: null,
      server: "test",
      transport: "stdio",
      source: null,
    },
    capture,
    input,
    output,
    log: (message) => logs.push(message),
    max_pending_requests: options.max_pending_requests,
    ...(options.guard === undefined ? {} : { guard: options.guard }),
  });
  const send = (line: unknown): void => {
    if (Buffer.isBuffer(line)) input.write(Buffer.concat([line, Buffer.from("\n")]));
    else if (typeof line === "string") input.write(`${line}\n`);
    else input.write(`${JSON.stringify(line)}\n`);
  };
  return {
    proxy,
    upstream,
    input,
    output,
    reader,
    store,
    pipeline,
    records: store.exchangeRecords,
    logs,
    // Ends once the client has read everything the proxy wrote, so a test sees every line.
    done: proxy.run().then(async (status) => {
      output.end();
      if (!output.readableEnded) await once(output, "end");
      return status;
    }),
    send,
    call(id, method, params) {
      const answer = reader.response(id);
      send(params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params });
      return answer;
    },
  };
}

/** The SDK's transport shape over the harness's streams, so the official client can drive an in-process proxy. */
export class StreamClientTransport implements SdkTransport {
  onmessage?: (message: JSONRPCMessage) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private readonly buffer = new ReadBuffer();

  constructor(
    private readonly toProxy: PassThrough,
    private readonly fromProxy: PassThrough,
  ) {}

  async start(): Promise<void> {
    this.fromProxy.on("data", (chunk: Buffer) => {
      this.buffer.append(chunk);
      for (let message = this.buffer.readMessage(); message !== null; message = this.buffer.readMessage()) {
        this.onmessage?.(message);
      }
    });
  }

  async send(message: JSONRPCMessage): Promise<void> {
    this.toProxy.write(serializeMessage(message));
  }

  async close(): Promise<void> {
    this.toProxy.end();
    this.onclose?.();
  }
}
