import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import type { Finding } from "../core/finding.js";
import { parseFinding } from "./capture-record.js";
import { isGzipFile } from "./read-capture.js";

export interface ReadFindingsOptions {
  /** Told about every bad line (`file:line: what is wrong`); bad lines are skipped. */
  onBadLine?: (message: string) => void;
}

/**
 * Reads a findings file as `toolwatch replay --findings` writes it (JSON Lines, optionally gzip), checking every
 * line. Findings files are small next to captures (one line per finding), so a line reader is fast enough here.
 */
export async function* readFindings(file: string, options: ReadFindingsOptions = {}): AsyncGenerator<Finding> {
  let input: Readable = createReadStream(file);
  if (await isGzipFile(file)) input = input.pipe(createGunzip());
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      options.onBadLine?.(`${file}:${lineNumber}: invalid JSON: ${(error as Error).message}`);
      continue;
    }
    const parsed = parseFinding(value);
    if (parsed.ok) yield parsed.finding;
    else options.onBadLine?.(`${file}:${lineNumber}: ${parsed.message}`);
  }
}
