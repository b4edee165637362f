import { closeSync, openSync, writeSync } from "node:fs";
import { ToolwatchError } from "../core/errors.js";

/** Bytes gathered before one write: findings can come in bursts of thousands, one syscall each would dominate. */
const FLUSH_CHARS = 64 * 1024;

/**
 * Writes one JSON value per line to a file, or to stdout for `-`, through an in-memory buffer.
 * A reader that goes away (`toolwatch replay --findings - | head`) ends the output quietly.
 */
export class JsonLinesWriter {
  /** Lines written so far. */
  lines = 0;
  private readonly descriptor: number | null;
  private buffer: string[] = [];
  private bufferedChars = 0;
  private closed = false;
  private brokenPipe = false;
  private lastStdoutWrite: Promise<void> = Promise.resolve();

  /** @param target a file path (created or truncated), or `-` for stdout */
  constructor(readonly target: string) {
    if (target === "-") {
      this.descriptor = null;
      process.stdout.on("error", (error: NodeJS.ErrnoException) => {
        if (error.code === "EPIPE") this.brokenPipe = true;
      });
      return;
    }
    try {
      this.descriptor = openSync(target, "w");
    } catch (error) {
      throw new ToolwatchError("usage", `cannot write ${target}: ${(error as Error).message}`, { cause: error });
    }
  }

  write(value: unknown): void {
    if (this.closed) return;
    const line = `${JSON.stringify(value)}\n`;
    this.buffer.push(line);
    this.bufferedChars += line.length;
    this.lines++;
    if (this.bufferedChars >= FLUSH_CHARS) this.flush();
  }

  /** Hands the buffer to the file or stdout. */
  flush(): void {
    if (this.buffer.length === 0) return;
    const text = this.buffer.join("");
    this.buffer = [];
    this.bufferedChars = 0;
    if (this.descriptor !== null) {
      writeSync(this.descriptor, text);
      return;
    }
    if (this.brokenPipe) return;
    this.lastStdoutWrite = new Promise((resolve) => {
      process.stdout.write(text, () => resolve());
    });
  }

  /** Flushes and closes the file (stdout stays open). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.descriptor !== null) {
      closeSync(this.descriptor);
      return;
    }
    await this.lastStdoutWrite;
  }
}
