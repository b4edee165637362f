/** What the splitter hands on: a complete line, or notice that an oversized one was discarded. */
export type SplitLine = { kind: "line"; line: Buffer } | { kind: "oversized"; bytes: number };

/**
 * Newline framing for MCP's stdio transport. Lines are handed on without the `\n` and
 * byte for byte otherwise. A line longer than `maxLineBytes` is discarded as it streams in
 * (memory stays bounded) and reported once with its size.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private discarding = false;
  private discardedBytes = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (line: SplitLine) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(10, start);
      if (newline === -1) {
        this.keep(chunk.subarray(start));
        return;
      }
      const piece = chunk.subarray(start, newline);
      start = newline + 1;
      if (this.discarding) {
        this.discardedBytes += piece.length;
        this.onLine({ kind: "oversized", bytes: this.discardedBytes });
        this.discarding = false;
        this.discardedBytes = 0;
        continue;
      }
      if (this.pendingBytes + piece.length > this.maxLineBytes) {
        const bytes = this.pendingBytes + piece.length;
        this.reset();
        this.onLine({ kind: "oversized", bytes });
        continue;
      }
      let line: Buffer;
      if (this.pending.length === 0) {
        line = piece;
      } else {
        this.pending.push(piece);
        line = Buffer.concat(this.pending, this.pendingBytes + piece.length);
        this.reset();
      }
      if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
      if (line.length === 0) continue;
      this.onLine({ kind: "line", line });
    }
  }

  /** Bytes held while waiting for the end of a line. */
  get buffered(): number {
    return this.pendingBytes;
  }

  /** Reports what is left at end of input: an unterminated line is handed on as it is. */
  end(): void {
    if (this.discarding) {
      this.onLine({ kind: "oversized", bytes: this.discardedBytes });
    } else if (this.pendingBytes > 0) {
      const line = Buffer.concat(this.pending, this.pendingBytes);
      this.onLine({ kind: "line", line });
    }
    this.reset();
    this.discarding = false;
    this.discardedBytes = 0;
  }

  private keep(piece: Buffer): void {
    if (this.discarding) {
      this.discardedBytes += piece.length;
      return;
    }
    if (this.pendingBytes + piece.length > this.maxLineBytes) {
      this.discarding = true;
      this.discardedBytes = this.pendingBytes + piece.length;
      this.reset();
      return;
    }
    // Copy: the stream may reuse the chunk's memory.
    this.pending.push(Buffer.from(piece));
    this.pendingBytes += piece.length;
  }

  private reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
  }
}
