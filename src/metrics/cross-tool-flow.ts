/**
 * Cross-tool data flow within one session: how many bytes of one tool's output reappear in the
 * arguments of a later call to another tool. docs/metrics.md defines the measure; in short:
 *
 * - Sources: the text results of the session's successful `tools/call` exchanges, newest first,
 *   up to `window_characters` characters in all; a result longer than half the window keeps only its
 *   first half-window of characters.
 * - Probes: the string values in a later call's `arguments` (keys are ignored). A value is first
 *   looked for whole. When it is not found whole and holds several words (runs of characters between
 *   whitespace and the delimiters `" ' , ; ? & = | ( ) [ ] { } < >`), its words of 8 or more characters
 *   are looked for (account numbers, addresses, keys, paths, a value inside a URL's query) and, in
 *   values of 8 words or more, its consecutive groups of 4 words (copied prose: a copied run of 7 or
 *   more words always contains one whole group). Probes shorter than 8 characters are never looked for.
 * - A probe counts when it occurs verbatim in a retained result of a tool other than the one being
 *   called; it adds its UTF-8 bytes, and no byte of an argument is counted twice.
 *
 * Results are kept as text and searched with the engine's native substring search rather than
 * fingerprinted character by character: fingerprinting every result costs more per event than
 * parsing it (measured on the agentdojo data), while arguments are small. The cost per call is
 * bounded by `maximum_probes × window_characters` characters searched; memory per session by
 * `window_characters` characters (1 or 2 bytes each).
 */

import { nameHash } from "./name-hash.js";

/** Limits of the cross-tool flow measure; see docs/metrics.md. */
export interface CrossToolFlowOptions {
  /** Characters of recent tool output kept per session to look arguments up in. Default 8,192. */
  window_characters?: number;
  /** Most substring searches for one call's arguments. Default 32. */
  maximum_probes?: number;
}

/** Characters of tool output a session keeps: a few typical results, 8 KB to 16 KB of memory. */
export const DEFAULT_FLOW_WINDOW_CHARACTERS = 8_192;
/** Searches per call: far more than the one or two string values a typical call has. */
export const DEFAULT_FLOW_MAXIMUM_PROBES = 32;
/** Shorter probes would match by chance (`2024`, `true`, `admin`). */
export const MINIMUM_PROBE_CHARACTERS = 8;
const WORDS_PER_GROUP = 4;
/** Argument strings are read this far for words; the whole value is still probed once. */
const MAXIMUM_SCANNED_CHARACTERS = 4_096;
/** How deep and how many values of an arguments object are read. */
const MAXIMUM_DEPTH = 8;
const MAXIMUM_VALUES = 64;

/** Resolved limits shared by every session of an observer. */
export interface FlowLimits {
  window_characters: number;
  maximum_probes: number;
}

/** The limits with defaults filled in and out-of-range values brought into range. */
export function flowLimits(options: CrossToolFlowOptions = {}): FlowLimits {
  return {
    window_characters: Math.max(
      MINIMUM_PROBE_CHARACTERS,
      Math.floor(options.window_characters ?? DEFAULT_FLOW_WINDOW_CHARACTERS),
    ),
    maximum_probes: Math.max(0, Math.floor(options.maximum_probes ?? DEFAULT_FLOW_MAXIMUM_PROBES)),
  };
}

/** ASCII codes that end a word: whitespace and the delimiters of JSON, URLs' queries, lists and markup. */
const SEPARATORS = new Uint8Array(128);
for (const separator of " \t\n\r\"',;?&=|()[]{}<>") SEPARATORS[separator.charCodeAt(0)] = 1;

/** Word bounds of the value being measured, as [start, end) pairs; shared because measuring never nests. */
let scratchBounds = new Int32Array(256);
let scratchCovered = new Uint8Array(128);

/** The retained output of one session and the lookups against it. */
export class SessionFlow {
  private readonly limits: FlowLimits;
  private readonly texts: string[] = [];
  /** {@link nameHash} of the tool that produced each text: a number, whatever the length of the name. */
  private readonly tools: number[] = [];
  private characters = 0;
  /** Probes left for the call being measured. */
  private budget = 0;
  /** Values left to read in the call being measured. */
  private valuesLeft = 0;

  constructor(limits: FlowLimits) {
    this.limits = limits;
  }

  /** Characters of output retained (for memory accounting). */
  get retained_characters(): number {
    return this.characters;
  }

  /** Keeps a successful result of `tool` as a source, dropping the oldest beyond the window. */
  addResult(tool: string, text: string): void {
    this.addResultOfTool(nameHash(tool), text);
  }

  /** {@link addResult} for a tool given by its {@link nameHash}, for a caller that has hashed the name already. */
  addResultOfTool(toolHash: number, text: string): void {
    if (text.length < MINIMUM_PROBE_CHARACTERS) return;
    const limit = this.limits.window_characters;
    const kept = text.length > limit >> 1 ? headCopy(text, limit >> 1) : text;
    this.texts.push(kept);
    this.tools.push(toolHash);
    this.characters += kept.length;
    while (this.characters > limit && this.texts.length > 1) {
      this.characters -= this.texts.shift()!.length;
      this.tools.shift();
    }
  }

  /** Bytes of the arguments of a call to `tool` that occur in retained output of other tools. */
  measureArguments(tool: string, argumentsObject: Record<string, unknown>): number {
    return this.measureArgumentsOfTool(nameHash(tool), argumentsObject);
  }

  /** {@link measureArguments} for a tool given by its {@link nameHash}, for a caller that has hashed the name already. */
  measureArgumentsOfTool(toolHash: number, argumentsObject: Record<string, unknown>): number {
    if (!this.hasOtherTool(toolHash)) return 0;
    this.budget = this.limits.maximum_probes;
    this.valuesLeft = MAXIMUM_VALUES;
    return this.measureNode(toolHash, argumentsObject, 0);
  }

  /** Whether some retained text comes from a tool other than `tool` (a loop: no closure per call). */
  private hasOtherTool(tool: number): boolean {
    const tools = this.tools;
    for (let index = 0; index < tools.length; index++) if (tools[index] !== tool) return true;
    return false;
  }

  private measureNode(tool: number, node: unknown, depth: number): number {
    if (this.budget <= 0 || this.valuesLeft <= 0) return 0;
    if (typeof node === "string") {
      this.valuesLeft--;
      return node.length >= MINIMUM_PROBE_CHARACTERS ? this.measureValue(tool, node) : 0;
    }
    if (depth >= MAXIMUM_DEPTH || node === null || typeof node !== "object") return 0;
    let bytes = 0;
    if (Array.isArray(node)) {
      for (const item of node) bytes += this.measureNode(tool, item, depth + 1);
    } else {
      for (const key in node) {
        if (Object.hasOwn(node, key))
          bytes += this.measureNode(tool, (node as Record<string, unknown>)[key], depth + 1);
      }
    }
    return bytes;
  }

  private measureValue(tool: number, value: string): number {
    if (this.found(tool, value)) return Buffer.byteLength(value, "utf8");
    const words = wordBounds(value);
    if (words < 2) return 0;
    const bounds = scratchBounds;
    if (scratchCovered.length < words) scratchCovered = new Uint8Array(words * 2);
    const covered = scratchCovered;
    covered.fill(0, 0, words);
    let bytes = 0;
    // Groups only in longer text: in a short value a partial copy is an identifier, which the word probes find.
    const groups = words >= 2 * WORDS_PER_GROUP;
    for (let first = 0; groups && first + WORDS_PER_GROUP <= words && this.budget > 0; first += WORDS_PER_GROUP) {
      const group = value.slice(bounds[2 * first]!, bounds[2 * (first + WORDS_PER_GROUP) - 1]!);
      if (group.length < MINIMUM_PROBE_CHARACTERS || !this.found(tool, group)) continue;
      bytes += Buffer.byteLength(group, "utf8");
      covered.fill(1, first, first + WORDS_PER_GROUP);
    }
    for (let word = 0; word < words && this.budget > 0; word++) {
      const wordStart = bounds[2 * word]!;
      const wordEnd = bounds[2 * word + 1]!;
      if (covered[word] === 1 || wordEnd - wordStart < MINIMUM_PROBE_CHARACTERS) continue;
      const text = value.slice(wordStart, wordEnd);
      if (this.found(tool, text)) bytes += Buffer.byteLength(text, "utf8");
    }
    return bytes;
  }

  /** Whether `probe` occurs in retained output of a tool other than `tool` (a {@link nameHash}), newest output first. */
  private found(tool: number, probe: string): boolean {
    if (this.budget <= 0) return false;
    this.budget--;
    for (let index = this.texts.length - 1; index >= 0; index--) {
      if (this.tools[index] !== tool && this.texts[index]!.includes(probe)) return true;
    }
    return false;
  }
}

/**
 * The first `length` characters of `text` in a string of their own. A plain slice would share (and so
 * keep alive) the whole of a result of up to a megabyte; concatenating makes V8 flatten the slice into a
 * new string, and slicing that one shares only the copy.
 */
function headCopy(text: string, length: number): string {
  return `${text.slice(0, length)}\u0000`.slice(0, length);
}

/** Fills {@link scratchBounds} with the word bounds of `value` (up to its first 4,096 characters) and returns how many words. */
function wordBounds(value: string): number {
  const end = Math.min(value.length, MAXIMUM_SCANNED_CHARACTERS);
  let words = 0;
  let start = -1;
  for (let index = 0; index <= end; index++) {
    const code = index < end ? value.charCodeAt(index) : 32;
    if (code < 128 && SEPARATORS[code] === 1) {
      if (start >= 0) {
        if (2 * words + 2 > scratchBounds.length) {
          const grown = new Int32Array(scratchBounds.length * 2);
          grown.set(scratchBounds);
          scratchBounds = grown;
        }
        scratchBounds[2 * words] = start;
        scratchBounds[2 * words + 1] = index;
        words++;
      }
      start = -1;
    } else if (start < 0) {
      start = index;
    }
  }
  return words;
}
