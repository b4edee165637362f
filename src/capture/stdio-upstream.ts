import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { ToolwatchError } from "../core/errors.js";
import type { InboundFrame, JsonRpcMessage, Transport, TransportClose } from "../core/transport.js";
import { LineSplitter, type SplitLine } from "../protocol/line-splitter.js";
import { DEFAULT_MESSAGE_LIMITS, type MessageLimits, oversizedFrame, parseMessage } from "../protocol/parse-message.js";

/** How to start an MCP server that speaks newline-delimited JSON-RPC on its stdin and stdout. */
export interface StdioUpstreamOptions {
  command: string;
  args?: string[];
  /** Variables added to the inherited environment (and overriding it). */
  env?: Record<string, string>;
  cwd?: string;
  /** Bounds applied to every line the server writes. */
  limits?: MessageLimits;
  /**
   * How long the server gets to exit by itself before toolwatch escalates: after its stdin closes
   * (counted from its last output), or after a signal.
   */
  kill_grace_ms?: number;
}

const NEWLINE = Buffer.from("\n");
const DEFAULT_KILL_GRACE_MS = 3_000;

/**
 * A spawned MCP server as a `Transport`. Its stdout is framed into lines and parsed; `send` writes
 * frames to its stdin byte for byte; its stderr passes through to ours untouched. `send` never
 * throws: writes after the server is gone are dropped and counted, and its exit arrives through
 * `onclose` with the exit code or signal.
 */
export class StdioUpstream implements Transport {
  onmessage?: (frame: InboundFrame) => void;
  onclose?: (close: TransportClose) => void;
  onerror?: (error: Error) => void;
  /** Called when writes that had backed up in the server's stdin have drained (see `backlogged`). */
  ondrain?: () => void;

  private readonly options: StdioUpstreamOptions;
  private readonly limits: MessageLimits;
  private readonly graceMs: number;
  private readonly splitter: LineSplitter;
  private child: ChildProcess | undefined;
  private stdinOpen = false;
  private backlog = false;
  private dropped = 0;
  private closeInfo: TransportClose | undefined;
  private escalation: NodeJS.Timeout | undefined;
  /** Set once `close` has asked the server to exit (and not yet signalled it). */
  private closing = false;
  private readonly exited: Promise<TransportClose>;
  private resolveExited!: (close: TransportClose) => void;

  constructor(options: StdioUpstreamOptions) {
    this.options = options;
    this.limits = options.limits ?? DEFAULT_MESSAGE_LIMITS;
    this.graceMs = options.kill_grace_ms ?? DEFAULT_KILL_GRACE_MS;
    this.splitter = new LineSplitter(this.limits.max_message_bytes, (line) => this.deliver(line));
    this.exited = new Promise((resolve) => {
      this.resolveExited = resolve;
    });
  }

  /** The server's process id once started. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True while writes are queued in memory because the server is not reading its stdin fast enough. */
  get backlogged(): boolean {
    return this.backlog;
  }

  /** Frames that could not be written because the server's stdin was already closed. */
  get droppedWrites(): number {
    return this.dropped;
  }

  /** How the server ended, once it has. */
  get closeState(): TransportClose | undefined {
    return this.closeInfo;
  }

  /**
   * Spawns the server. Rejects with a `ToolwatchError` (`upstream_failed`) whose `cause` carries the
   * system error when the command cannot be started; see `spawnFailureExitStatus`.
   */
  start(): Promise<void> {
    if (this.child !== undefined) return Promise.reject(new Error("StdioUpstream already started"));
    const { command, args = [], env, cwd } = this.options;
    return new Promise<void>((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(command, args, {
          stdio: ["pipe", "pipe", "inherit"],
          env: env === undefined ? process.env : { ...process.env, ...env },
          cwd,
          windowsHide: true,
        });
      } catch (error) {
        this.settle({ exit_code: null, signal: null, reason: "upstream MCP server could not be started" }, false);
        reject(this.spawnFailure(error));
        return;
      }
      this.child = child;
      let spawned = false;
      child.once("spawn", () => {
        spawned = true;
        this.stdinOpen = true;
        resolve();
      });
      child.on("error", (error) => {
        if (!spawned) {
          this.settle({ exit_code: null, signal: null, reason: "upstream MCP server could not be started" }, false);
          reject(this.spawnFailure(error));
          return;
        }
        this.onerror?.(error);
      });
      const stdin = child.stdin!;
      const drained = (): void => {
        if (!this.backlog) return;
        this.backlog = false;
        this.ondrain?.();
      };
      // EPIPE and friends: the server exited or closed its stdin. Its exit is reported through onclose;
      // what was queued for it is gone, so nobody should keep waiting for it to drain.
      const stdinGone = (): void => {
        this.stdinOpen = false;
        drained();
      };
      stdin.on("error", stdinGone);
      stdin.on("close", stdinGone);
      stdin.on("drain", drained);
      const stdout = child.stdout!;
      stdout.on("data", (chunk: Buffer) => {
        // A server still writing after its stdin closed is finishing its answers, not hanging: give it more time.
        if (this.closing) this.escalation?.refresh();
        try {
          this.splitter.push(chunk);
        } catch (error) {
          this.onerror?.(error as Error);
        }
      });
      stdout.on("end", () => {
        try {
          this.splitter.end();
        } catch (error) {
          this.onerror?.(error as Error);
        }
      });
      stdout.on("error", (error) => this.onerror?.(error));
      // `close` rather than `exit`: it comes after stdout has ended, so every line is delivered first.
      child.on("close", (code, signal) => {
        if (!spawned) return;
        const reason =
          signal !== null
            ? `upstream MCP server was killed by ${signal}`
            : `upstream MCP server exited (code ${code ?? "unknown"})`;
        this.settle({ exit_code: code, signal, reason }, true);
      });
    });
  }

  /** Writes one frame: `raw` as it is when given (it must not contain a newline), else the message serialised. */
  send(message: JsonRpcMessage | JsonRpcMessage[], raw?: Buffer | string): void {
    const stdin = this.child?.stdin;
    if (!this.stdinOpen || stdin === undefined || stdin === null || !stdin.writable) {
      this.dropped++;
      return;
    }
    let data: Buffer | string;
    if (raw === undefined) {
      data = `${JSON.stringify(message)}\n`;
    } else if (typeof raw === "string") {
      data = raw.includes("\n") ? `${JSON.stringify(message)}\n` : `${raw}\n`;
    } else {
      data = raw.includes(10) ? `${JSON.stringify(message)}\n` : Buffer.concat([raw, NEWLINE], raw.length + 1);
    }
    if (!stdin.write(data)) this.backlog = true;
  }

  /** Stops reading the server's stdout (the client is not keeping up). */
  pause(): void {
    this.child?.stdout?.pause();
  }

  resume(): void {
    this.child?.stdout?.resume();
  }

  /**
   * Closes the server's stdin (the MCP way to ask it to exit), waits for it to exit, and escalates
   * to SIGTERM and then SIGKILL when it takes longer than the grace period. Resolves once it is gone.
   */
  async close(): Promise<void> {
    const child = this.child;
    if (child === undefined || this.closeInfo !== undefined) return;
    if (this.stdinOpen) {
      this.stdinOpen = false;
      child.stdin?.end();
    }
    if (this.escalation === undefined) {
      this.closing = true;
      this.escalation = setTimeout(() => this.stop("SIGTERM"), this.graceMs);
      this.escalation.unref();
    }
    await this.exited;
  }

  /** Sends `signal` to the server and escalates to SIGKILL after the grace period. Resolves once it is gone. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.child;
    if (child === undefined || this.closeInfo !== undefined) return;
    try {
      child.kill(signal);
    } catch (error) {
      this.onerror?.(error as Error);
    }
    if (this.escalation !== undefined) clearTimeout(this.escalation);
    this.closing = false;
    if (signal !== "SIGKILL") {
      this.escalation = setTimeout(() => this.stop("SIGKILL"), this.graceMs);
      this.escalation.unref();
    }
    await this.exited;
  }

  private deliver(line: SplitLine): void {
    const frame = line.kind === "line" ? parseMessage(line.line, this.limits) : oversizedFrame(line.bytes, this.limits);
    this.onmessage?.(frame);
  }

  private settle(close: TransportClose, notify: boolean): void {
    if (this.closeInfo !== undefined) return;
    this.closeInfo = close;
    this.stdinOpen = false;
    if (this.escalation !== undefined) clearTimeout(this.escalation);
    this.escalation = undefined;
    this.resolveExited(close);
    if (notify) this.onclose?.(close);
  }

  private spawnFailure(error: unknown): ToolwatchError {
    const { command, cwd } = this.options;
    const code = (error as NodeJS.ErrnoException)?.code;
    let message: string;
    if (code === "ENOENT" && cwd !== undefined && !existsSync(cwd)) {
      message = `cannot start the MCP server: working directory not found: ${cwd}`;
    } else if (code === "ENOENT") {
      message = `cannot start the MCP server: command not found: ${command}`;
    } else if (code === "EACCES" || code === "EPERM") {
      message = `cannot start the MCP server: permission denied: ${command}`;
    } else {
      message = `cannot start the MCP server ${command}: ${(error as Error)?.message ?? String(error)}`;
    }
    return new ToolwatchError("upstream_failed", message, { cause: error });
  }
}

/** The exit status a shell would report for a server that could not be started: 127 not found, 126 not executable. */
export function spawnFailureExitStatus(error: unknown): number {
  const cause = error instanceof ToolwatchError ? error.cause : error;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return 127;
  if (code === "EACCES" || code === "EPERM") return 126;
  return 1;
}

/** The exit status that mirrors how the server ended: its own code, or 128 + the signal number. */
export function exitStatus(close: TransportClose): number {
  if (close.exit_code !== null) return close.exit_code;
  if (close.signal !== null) {
    const number = (constants.signals as Record<string, number | undefined>)[close.signal];
    if (number !== undefined) return 128 + number;
  }
  return 1;
}
