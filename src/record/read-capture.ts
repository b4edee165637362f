import { isAscii, isUtf8 } from "node:buffer";
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import { createGunzip, type ZlibOptions } from "node:zlib";
import { ToolwatchError } from "../core/errors.js";
import type { CapturedExchange } from "../core/exchange.js";
import { explainCapturedExchange, isCapturedExchange } from "./capture-record.js";

/** One accepted line of a capture file. */
export interface CaptureRecord {
  exchange: CapturedExchange;
  /** The line as read (no newline, no `\r`): the exchange's JSON, which the store can keep without re-serialising. */
  text: string;
  /**
   * The same line as UTF-8 bytes, exactly as in the (decompressed) file: what the store hashes and keeps. A view
   * into the chunk it was read from (about 1 MB): copy it to keep it beyond the batch.
   */
  bytes: Buffer;
  /** `exchange.time` in ms since the epoch. */
  time_ms: number;
  /** 1-based line number in the (decompressed) file. */
  line: number;
}

/** What reading one file came to; updated while reading, so a progress display can poll it. */
export interface CaptureReadStats {
  file: string;
  gzip: boolean;
  /** Size of the file on disk (compressed size for gzip). */
  file_bytes: number;
  /** Bytes read from disk so far (compressed for gzip). */
  bytes_read: number;
  /** Bytes of JSON Lines text read so far (after decompression). */
  text_bytes: number;
  /** Lines seen, blank lines included. */
  lines: number;
  records: number;
  blank_lines: number;
  bad_lines: number;
}

export interface ReadCaptureOptions {
  /** Stop at the first bad line with a `capture_invalid` error instead of reporting and skipping it. */
  strict?: boolean;
  /** Told about every bad line (`file:line: what is wrong`). Defaults to nothing: the count is in the stats. */
  onBadLine?: (message: string) => void;
  /** Receives the counters; pass one to watch progress or read the totals afterwards. */
  stats?: CaptureReadStats;
  /** Lines longer than this are skipped as bad lines, so one broken file cannot exhaust memory. */
  max_line_bytes?: number;
}

const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;
/** Large reads: the per-chunk overhead of async iteration stays negligible against parsing. */
const READ_CHUNK_BYTES = 1024 * 1024;
/** Inflating into 1 MB chunks measured about 10% less CPU than into 256 KB ones (fewer zlib calls and callbacks). */
const GUNZIP_CHUNK_BYTES = 1024 * 1024;
/** Decompressed bytes inflated ahead of the parser, so the inflating thread and the main thread overlap. */
const GUNZIP_READ_AHEAD_BYTES = 4 * 1024 * 1024;
const NEWLINE = 10;
const CARRIAGE_RETURN = 13;

/** Fresh counters for `file`. */
export function newCaptureReadStats(file: string): CaptureReadStats {
  return {
    file,
    gzip: false,
    file_bytes: 0,
    bytes_read: 0,
    text_bytes: 0,
    lines: 0,
    records: 0,
    blank_lines: 0,
    bad_lines: 0,
  };
}

/** True when the file starts with the gzip magic bytes, whatever its name. */
export async function isGzipFile(file: string): Promise<boolean> {
  const handle = await open(file, "r");
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/**
 * Reads a `.jsonl` or `.jsonl.gz` capture file as a stream, one batch of records per chunk read.
 *
 * Gzip is recognised by its magic bytes. CRLF line ends and blank lines are accepted; a line that is
 * not a capture record (invalid JSON, invalid UTF-8, a missing field, a truncated last line) is
 * reported through `onBadLine`, counted, and skipped, or with `strict` ends the read with a
 * `capture_invalid` error. A file that cannot be opened always throws.
 */
export async function* readCaptureBatches(
  file: string,
  options: ReadCaptureOptions = {},
): AsyncGenerator<CaptureRecord[]> {
  const stats = options.stats ?? newCaptureReadStats(file);
  const maxLineBytes = options.max_line_bytes ?? DEFAULT_MAX_LINE_BYTES;
  try {
    stats.file_bytes = (await stat(file)).size;
    stats.gzip = await isGzipFile(file);
  } catch (error) {
    throw new ToolwatchError("capture_invalid", `${file}: cannot read (${(error as Error).message})`, { cause: error });
  }
  const reportBad = (lineNumber: number, reason: string): void => {
    stats.bad_lines++;
    const message = `${file}:${lineNumber}: ${reason}`;
    if (options.strict) throw new ToolwatchError("capture_invalid", message);
    options.onBadLine?.(message);
  };

  const input = createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
  let source: Readable = input;
  if (stats.gzip) {
    // Zlib streams take the stream options too; the typings only list zlib's own.
    const gunzipOptions: ZlibOptions & { readableHighWaterMark: number } = {
      chunkSize: GUNZIP_CHUNK_BYTES,
      readableHighWaterMark: GUNZIP_READ_AHEAD_BYTES,
    };
    const gunzip = createGunzip(gunzipOptions);
    input.on("error", (error) => gunzip.destroy(error));
    source = input.pipe(gunzip);
  }

  // Pieces of a line that spans chunks; most lines fit in one chunk and never touch this.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let oversized = false;
  let lineNumber = 0;

  /** @param text the line already decoded (without its newline), when its chunk is pure ASCII. */
  const acceptLine = (
    buffer: Buffer,
    start: number,
    end: number,
    batch: CaptureRecord[],
    text: string | undefined,
  ): void => {
    lineNumber++;
    if (end - start > maxLineBytes) {
      stats.lines++;
      reportBad(lineNumber, `line longer than ${maxLineBytes} bytes skipped`);
      return;
    }
    if (end > start && buffer[end - 1] === CARRIAGE_RETURN) {
      end--;
      text = text?.slice(0, -1);
    }
    const record = parseLine(buffer, start, end, lineNumber, reportBad, stats, false, text);
    if (record !== null) batch.push(record);
  };

  try {
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        stats.bytes_read = input.bytesRead;
        stats.text_bytes += chunk.length;
        const batch: CaptureRecord[] = [];
        let start = 0;
        let newline = chunk.indexOf(NEWLINE);
        if (pendingBytes > 0 || oversized) {
          if (newline === -1) {
            if (!oversized) keepPiece(chunk);
            continue;
          }
          if (oversized) {
            lineNumber++;
            stats.lines++;
            reportBad(lineNumber, `line longer than ${maxLineBytes} bytes skipped`);
            oversized = false;
          } else {
            pending.push(chunk.subarray(0, newline));
            const joined = Buffer.concat(pending, pendingBytes + newline);
            pending = [];
            pendingBytes = 0;
            acceptLine(joined, 0, joined.length, batch, undefined);
          }
          start = newline + 1;
          newline = chunk.indexOf(NEWLINE, start);
        }
        if (newline !== -1) {
          // One check for the chunk's whole lines instead of one per line; pure ASCII (the common case) is then
          // decoded as Latin-1, a plain copy. Decoding the chunk as one string would save more calls, but a string
          // of a megabyte lands in fresh pages of V8's large-object space, and the page faults cost more.
          const ascii = isAscii(chunk.subarray(start, chunk.lastIndexOf(NEWLINE)));
          while (newline !== -1) {
            acceptLine(chunk, start, newline, batch, ascii ? chunk.toString("latin1", start, newline) : undefined);
            start = newline + 1;
            newline = chunk.indexOf(NEWLINE, start);
          }
        }
        if (start < chunk.length) keepPiece(chunk.subarray(start));
        if (batch.length > 0) yield batch;
      }
    } catch (error) {
      if (error instanceof ToolwatchError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "Z_BUF_ERROR" && code !== "Z_DATA_ERROR") {
        throw new ToolwatchError("capture_invalid", `${file}: read failed (${(error as Error).message})`, {
          cause: error,
        });
      }
      // A gzip file cut short (still being written, or copied halfway): keep what was read.
      reportBad(lineNumber + 1, `compressed data ends early or is corrupt (${(error as Error).message})`);
    }
    stats.bytes_read = input.bytesRead;
    if (oversized) {
      lineNumber++;
      stats.lines++;
      reportBad(lineNumber, `line longer than ${maxLineBytes} bytes skipped`);
    } else if (pendingBytes > 0) {
      // The last line has no newline: fine when it is complete, a truncated write when it does not parse.
      const joined = Buffer.concat(pending, pendingBytes);
      const batch: CaptureRecord[] = [];
      lineNumber++;
      const end = joined[joined.length - 1] === CARRIAGE_RETURN ? joined.length - 1 : joined.length;
      const record = parseLine(joined, 0, end, lineNumber, reportBad, stats, true);
      if (record !== null) batch.push(record);
      if (batch.length > 0) yield batch;
    }
  } finally {
    input.destroy();
    if (source !== input) source.destroy();
  }

  function keepPiece(piece: Buffer): void {
    if (pendingBytes + piece.length > maxLineBytes) {
      pending = [];
      pendingBytes = 0;
      oversized = true;
      return;
    }
    // A subarray would pin the whole chunk; copy the (small) tail instead.
    pending.push(Buffer.from(piece));
    pendingBytes += piece.length;
  }
}

/** Reads a capture file record by record; see {@link readCaptureBatches} for what is accepted. */
export async function* readCapture(file: string, options: ReadCaptureOptions = {}): AsyncGenerator<CaptureRecord> {
  for await (const batch of readCaptureBatches(file, options)) yield* batch;
}

function isBlank(buffer: Buffer, start: number, end: number): boolean {
  for (let index = start; index < end; index++) {
    const byte = buffer[index];
    if (byte !== 0x20 && byte !== 0x09 && byte !== CARRIAGE_RETURN) return false;
  }
  return true;
}

/** @param decoded the line's text when it is known to be ASCII and was decoded already (no newline, no `\r`). */
function parseLine(
  buffer: Buffer,
  start: number,
  end: number,
  lineNumber: number,
  reportBad: (lineNumber: number, reason: string) => void,
  stats: CaptureReadStats,
  lastWithoutNewline = false,
  decoded?: string,
): CaptureRecord | null {
  stats.lines++;
  const first = buffer[start];
  if (start === end || ((first === 0x20 || first === 0x09) && isBlank(buffer, start, end))) {
    stats.blank_lines++;
    return null;
  }
  const bytes = buffer.subarray(start, end);
  let text = decoded;
  if (text === undefined) {
    if (!isUtf8(bytes)) {
      reportBad(lineNumber, "line is not valid UTF-8");
      return null;
    }
    text = bytes.toString("utf8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = lastWithoutNewline
      ? `truncated last line (${end - start} bytes, no newline at the end of the file): ${(error as Error).message}`
      : `invalid JSON: ${(error as Error).message}`;
    reportBad(lineNumber, reason);
    return null;
  }
  if (!isCapturedExchange(value)) {
    reportBad(lineNumber, explainCapturedExchange(value));
    return null;
  }
  stats.records++;
  return { exchange: value, text, bytes, time_ms: Date.parse(value.time), line: lineNumber };
}
