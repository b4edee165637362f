/** Where the store reports trouble: one line, without the `toolwatch:` prefix or a newline. */
export type StoreLog = (message: string) => void;

/** Writes to stderr, which the stdio proxy keeps free of protocol traffic. */
export const stderrLog: StoreLog = (message) => {
  process.stderr.write(`toolwatch: ${message}\n`);
};

/**
 * Logs the first failure of a burst and a summary when it ends, so a full disk produces two lines,
 * not one per batch. A burst ends at the next success.
 */
export class DropBurstLog {
  private droppedInBurst = 0;
  private inBurst = false;

  constructor(
    private readonly log: StoreLog,
    /** Names the burst in both lines, e.g. "store write failed". */
    private readonly what: string,
  ) {}

  failed(dropped: number, detail: string): void {
    if (!this.inBurst) {
      this.inBurst = true;
      this.log(`${this.what} (${detail}); dropping records until it recovers`);
    }
    this.droppedInBurst += dropped;
  }

  succeeded(): void {
    if (!this.inBurst) return;
    this.log(`${this.what} recovered; ${this.droppedInBurst} record(s) dropped meanwhile`);
    this.inBurst = false;
    this.droppedInBurst = 0;
  }
}

/** A readable one-line description of a write error, with the SQLite code when there is one. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
