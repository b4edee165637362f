import { performance } from "node:perf_hooks";

const WIDTH = 24;
/** Redraws at most this often: drawing on every batch would cost more than the work it reports. */
const REDRAW_MS = 100;

/** Writes `\r`-redrawn text; `process.stderr` in the CLI. */
export interface ProgressOutput {
  write(text: string): unknown;
}

/** A one-line progress bar (bytes read of the total, events, rate), redrawn in place on a terminal. */
export class ProgressBar {
  private readonly started = performance.now();
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly output: ProgressOutput,
    private readonly totalBytes: number,
  ) {}

  /** Redraws when enough time has passed since the last draw. */
  update(bytesRead: number, events: number): void {
    const now = performance.now();
    if (now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    this.drawn = true;
    const fraction = this.totalBytes > 0 ? Math.min(1, bytesRead / this.totalBytes) : 0;
    const filled = Math.round(fraction * WIDTH);
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? Math.round(events / seconds) : 0;
    const bar = `${"█".repeat(filled)}${"░".repeat(WIDTH - filled)}`;
    this.output.write(
      `\r${bar} ${(fraction * 100).toFixed(0).padStart(3)}%  ${megabytes(bytesRead)}/${megabytes(this.totalBytes)} MB  ${groupDigits(events)} events  ${groupDigits(rate)} events/s\u001b[K`,
    );
  }

  /** Clears the line so the summary starts clean. */
  finish(): void {
    if (this.drawn) this.output.write("\r\u001b[K");
    this.drawn = false;
  }
}

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/**
 * `26133` → `26,133`. Written out because the first `toLocaleString` call loads locale data,
 * which costs more than a small replay.
 */
export function groupDigits(value: number): string {
  return String(Math.round(value)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
