import { TextMemo } from "./text-memo.js";
import {
  clipValue,
  forEachIdentifier,
  forEachIdentifierHash,
  forEachShingle,
  hashValue,
  normalizeValue,
  wordsOf,
} from "./value-tokens.js";

/** One earlier result that values of a call's arguments came from. */
export interface FlowSourceMatch {
  /** Call index of the result the values came from. */
  from_call: number;
  from_tool: string;
  /** The result carried instructions aimed at the model (inline decision or the poisoning classifier). */
  poisoned: boolean;
  /** The values that flowed, clipped, for evidence (at most a few). */
  values: string[];
  /** `exact`: whole values or identifiers seen in the result; `fuzzy`: shared runs of words only. */
  kind: "exact" | "fuzzy";
  /** Some value sat in a sentence of the result that reads as an instruction (a request, an order). */
  instruction: boolean;
  /** Top-level argument names whose values carried the flow. */
  arguments: string[];
}

/** Where a call's arguments came from. */
export interface FlowTrace {
  flows: FlowSourceMatch[];
  /** Characters of the arguments traced to earlier results (each counted once). */
  bytes: number;
}

/** Scores how much a span of text reads as an instruction; the poisoning classifier's model fits. */
export interface InstructionScorer {
  /** Sentences, lines, cells of a text, in order. */
  segments(text: string): readonly { start: number; end: number }[];
  /** 0..1: how much `text[start, end)` reads as an instruction aimed at the reader. */
  scoreSpan(text: string, start: number, end: number): number;
}

/** Options of {@link DataFlowTracker}. */
export interface DataFlowTrackerOptions {
  /** Marks values that sit in instruction-like sentences; none when absent. */
  scorer?: InstructionScorer | null;
  /** Segment score at or above which a sentence counts as an instruction. Default 0.2. */
  instruction_threshold?: number;
  /** Characters of a result read for values. Default 65,536. */
  max_result_chars?: number;
  /** Identifiers kept from one result. Default 256. */
  max_identifiers_per_result?: number;
  /** Sampled shingles kept from one result. Default 192. */
  max_shingles_per_result?: number;
  /** Segments scored per result. Default 24. */
  max_scored_segments?: number;
  /**
   * Bytes of the memo of result fingerprints shared by all sessions (texts counted at 2 bytes per character,
   * least recently used dropped first). Default 32 MiB; 0 turns it off.
   */
  fingerprint_memo_bytes?: number;
}

/** What a result text leaves, whichever session reads it: hashes only, in typed arrays. */
interface ResultFingerprint {
  /** Hashes of the identifier-like tokens, in order of offset. */
  readonly identifiers: Int32Array;
  /** Offsets of those tokens. */
  readonly starts: Int32Array;
  /** Hashes of the sampled shingles. */
  readonly shingles: Int32Array;
  /** Per identifier, 1 when in an instruction sentence of the result read as not poisoned; `null` until needed. */
  plain_instructions: Uint8Array | null;
  /** The same, read as poisoned (every sentence scored). */
  poisoned_instructions: Uint8Array | null;
  /** Hashes of the words of the instruction sentences, read as poisoned. */
  instruction_words: Int32Array | null;
}

function fingerprintBytes(print: ResultFingerprint): number {
  return (
    print.identifiers.byteLength +
    print.starts.byteLength +
    print.shingles.byteLength +
    (print.plain_instructions?.byteLength ?? 0) +
    (print.poisoned_instructions?.byteLength ?? 0) +
    (print.instruction_words?.byteLength ?? 0) +
    6 * 64
  );
}

const TABLE_SIZE = 1024;
/** A generation is retired at half load, so probing stays short and memory is fixed. */
const GENERATION_LIMIT = TABLE_SIZE / 2;
const KNOWN_SIZE = 512;
const KNOWN_LIMIT = KNOWN_SIZE / 2;
const SOURCE_RING = 64;
const SEQUENCE_MASK = 0xffff;

const IDENTIFIER_FLAG = 1;
const SHINGLE_FLAG = 2;
const INSTRUCTION_FLAG = 4;
/** A short word of an instruction in a poisoned result (`13`, `200`): matched only by a whole argument value. */
const WORD_FLAG = 8;
const POISONED_FLAG = 16;

const MAX_ARGUMENT_VALUES = 64;
const MAX_ARGUMENT_CHARS = 4096;
const MAX_WHOLE_VALUE = 256;
const MAX_VALUES_PER_FLOW = 4;

/** An open-addressing table of 31-bit hashes to (source sequence, flags): 8 KB, no objects. */
class HashTable {
  readonly keys = new Int32Array(TABLE_SIZE);
  readonly values = new Uint32Array(TABLE_SIZE);
  count = 0;

  get(hash: number): number {
    let slot = hash & (TABLE_SIZE - 1);
    for (;;) {
      const key = this.keys[slot]!;
      if (key === 0) return 0;
      if (key === hash) return this.values[slot]!;
      slot = (slot + 1) & (TABLE_SIZE - 1);
    }
  }

  /** Keeps the first source of a value unless the new one is stronger evidence (poisoned, an instruction). */
  put(hash: number, value: number): void {
    let slot = hash & (TABLE_SIZE - 1);
    for (;;) {
      const key = this.keys[slot]!;
      if (key === 0) {
        this.keys[slot] = hash;
        this.values[slot] = value;
        this.count++;
        return;
      }
      if (key === hash) {
        const old = this.values[slot]!;
        if (strength(value) > strength(old)) this.values[slot] = value;
        return;
      }
      slot = (slot + 1) & (TABLE_SIZE - 1);
    }
  }

  clear(): void {
    this.keys.fill(0);
    this.count = 0;
  }
}

function strength(value: number): number {
  return (value & POISONED_FLAG ? 2 : 0) + (value & INSTRUCTION_FLAG ? 1 : 0);
}

interface Source {
  sequence: number;
  call_index: number;
  tool: string;
  poisoned: boolean;
}

/** What one session keeps: about 20 KB whatever the traffic. */
class SessionFlows {
  current = new HashTable();
  previous: HashTable | null = null;
  readonly sources: (Source | undefined)[] = new Array(SOURCE_RING);
  sequence = 0;
  /** Values seen in the session's arguments, with the call that first carried them. */
  readonly knownKeys = new Int32Array(KNOWN_SIZE);
  readonly knownCalls = new Int32Array(KNOWN_SIZE);
  knownCount = 0;

  put(hash: number, value: number): void {
    if (this.current.count >= GENERATION_LIMIT) {
      // The oldest generation goes: values of recent results are the ones later calls use.
      const retired = this.previous ?? new HashTable();
      retired.clear();
      this.previous = this.current;
      this.current = retired;
    }
    this.current.put(hash, value);
  }

  get(hash: number): number {
    const value = this.current.get(hash);
    if (value !== 0) return value;
    return this.previous?.get(hash) ?? 0;
  }

  source(value: number): Source | undefined {
    const sequence = value >>> 8;
    const source = this.sources[sequence % SOURCE_RING];
    return source !== undefined && (source.sequence & SEQUENCE_MASK) === sequence ? source : undefined;
  }

  /** The call that first carried `hash` in its arguments, or -1. */
  knownAt(hash: number): number {
    let slot = hash & (KNOWN_SIZE - 1);
    for (;;) {
      const key = this.knownKeys[slot]!;
      if (key === 0) return -1;
      if (key === hash) return this.knownCalls[slot]!;
      slot = (slot + 1) & (KNOWN_SIZE - 1);
    }
  }

  remember(hash: number, callIndex: number): void {
    if (this.knownCount >= KNOWN_LIMIT) {
      this.knownKeys.fill(0);
      this.knownCount = 0;
    }
    let slot = hash & (KNOWN_SIZE - 1);
    for (;;) {
      const key = this.knownKeys[slot]!;
      if (key === hash) return;
      if (key === 0) {
        this.knownKeys[slot] = hash;
        this.knownCalls[slot] = callIndex;
        this.knownCount++;
        return;
      }
      slot = (slot + 1) & (KNOWN_SIZE - 1);
    }
  }
}

interface PendingFlow {
  source: Source;
  values: string[];
  exact: boolean;
  instruction: boolean;
  arguments: string[];
}

/**
 * Follows values from tool results into later calls' arguments, per session.
 *
 * A result leaves fingerprints: the hashes of its identifier-like tokens (addresses, account numbers, URLs
 * and hosts, phone numbers, paths, quoted strings) and of a sample of its 5-word shingles, with the call it
 * came from, whether it was poisoned, and whether the token sat in a sentence that reads as an instruction.
 * A later call's arguments are looked up whole, token by token and shingle by shingle (normalised for case,
 * spacing and punctuation). A value the session's arguments carried before the result existed came from
 * the user, not from the result, and is not a flow.
 *
 * Memory is fixed per session (two generations of 1,024 hashes, the oldest dropped, plus 512 argument
 * hashes): about 20 KB. Synchronous and never throws on odd input, so the inline guard can call it before
 * forwarding a call.
 */
export class DataFlowTracker {
  private readonly sessions = new Map<string, SessionFlows>();
  private readonly scorer: InstructionScorer | null;
  private readonly instructionThreshold: number;
  private readonly maxResultChars: number;
  private readonly maxIdentifiers: number;
  private readonly maxShingles: number;
  private readonly maxScoredSegments: number;
  private readonly memo: TextMemo<ResultFingerprint>;

  constructor(options: DataFlowTrackerOptions = {}) {
    this.scorer = options.scorer ?? null;
    this.instructionThreshold = options.instruction_threshold ?? 0.2;
    this.maxResultChars = options.max_result_chars ?? 65_536;
    this.maxIdentifiers = options.max_identifiers_per_result ?? 256;
    this.maxShingles = options.max_shingles_per_result ?? 192;
    this.maxScoredSegments = options.max_scored_segments ?? 24;
    this.memo = new TextMemo(options.fingerprint_memo_bytes ?? 32 * 1024 * 1024);
  }

  /** Sessions with state. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Remembers the values of one call's result. */
  observeResult(session: string, callIndex: number, tool: string, text: string, poisoned: boolean): void {
    if (text.length === 0) return;
    const print = this.fingerprint(text);
    const inInstruction = this.instructionFlags(text, print, poisoned);
    const state = this.state(session);
    const sequence = state.sequence++ & SEQUENCE_MASK;
    state.sources[sequence % SOURCE_RING] = { sequence, call_index: callIndex, tool, poisoned };
    const base = (sequence << 8) | (poisoned ? POISONED_FLAG : 0);
    const identifiers = print.identifiers;
    for (let index = 0; index < identifiers.length; index++) {
      const instruction = inInstruction !== null && inInstruction[index] === 1;
      state.put(identifiers[index]!, base | IDENTIFIER_FLAG | (instruction ? INSTRUCTION_FLAG : 0));
    }
    const shingles = print.shingles;
    for (let index = 0; index < shingles.length; index++) state.put(shingles[index]!, base | SHINGLE_FLAG);
    if (poisoned) {
      // Short values an injected instruction names (a file id, an amount) only count when a whole argument equals one.
      const words = print.instruction_words!;
      for (let index = 0; index < words.length; index++) state.put(words[index]!, base | WORD_FLAG | INSTRUCTION_FLAG);
    }
  }

  /** Bytes the memo of result fingerprints holds now (bounded by `fingerprint_memo_bytes`). */
  get memoBytes(): number {
    return this.memo.bytes;
  }

  /**
   * The session-independent part of reading a result: identifier and shingle hashes, worked out once per
   * distinct text and kept in the memo, so a document read again (by this session or another) costs a lookup.
   */
  private fingerprint(text: string): ResultFingerprint {
    const known = this.memo.get(text);
    if (known !== undefined) return known;
    const identifiers: number[] = [];
    const starts: number[] = [];
    forEachIdentifierHash(text, this.maxResultChars, this.maxIdentifiers, (hash, start) => {
      identifiers.push(hash);
      starts.push(start);
    });
    const shingles: number[] = [];
    forEachShingle(text, this.maxResultChars, this.maxShingles, (hash) => shingles.push(hash));
    const print: ResultFingerprint = {
      identifiers: Int32Array.from(identifiers),
      starts: Int32Array.from(starts),
      shingles: Int32Array.from(shingles),
      plain_instructions: null,
      poisoned_instructions: null,
      instruction_words: null,
    };
    this.memo.set(text, print, fingerprintBytes(print));
    return print;
  }

  /**
   * For each identifier of a result, 1 when it sits in a sentence that reads as an instruction, or `null` when
   * none does; read as poisoned or not (the two score different sentences), each worked out once per text.
   */
  private instructionFlags(text: string, print: ResultFingerprint, poisoned: boolean): Uint8Array | null {
    const cached = poisoned ? print.poisoned_instructions : print.plain_instructions;
    if (cached !== null) return cached.length === 0 ? null : cached;
    const spans = this.instructionSpans(text, poisoned, print.starts);
    const flags = new Uint8Array(spans.length === 0 ? 0 : print.identifiers.length);
    let spanIndex = 0;
    for (let index = 0; index < flags.length; index++) {
      const start = print.starts[index]!;
      while (spanIndex < spans.length && spans[spanIndex]!.end <= start) spanIndex++;
      const span = spans[spanIndex];
      if (span !== undefined && span.start <= start) flags[index] = 1;
    }
    if (poisoned) {
      print.poisoned_instructions = flags;
      const words: number[] = [];
      for (const span of spans) {
        for (const word of wordsOf(text.slice(span.start, span.end), 64)) words.push(hashValue(word));
      }
      print.instruction_words = Int32Array.from(words);
    } else print.plain_instructions = flags;
    // Re-declared with what it now holds, so the memo's budget stays exact.
    this.memo.set(text, print, fingerprintBytes(print));
    return flags.length === 0 ? null : flags;
  }

  /** Finds which earlier results the values of a call's arguments came from, then remembers the arguments. */
  traceArguments(
    session: string,
    callIndex: number,
    _tool: string,
    args: Record<string, unknown> | null | undefined,
  ): FlowTrace {
    if (args === null || args === undefined) return { flows: [], bytes: 0 };
    const state = this.state(session);
    const pending = new Map<number, PendingFlow>();
    const remembered: number[] = [];
    let bytes = 0;
    let budget = MAX_ARGUMENT_VALUES;
    const match = (key: string, hash: number, shown: string, accept: number, exact: boolean): boolean => {
      const value = state.get(hash);
      if (value === 0 || (value & accept) === 0) return false;
      const source = state.source(value);
      if (source === undefined || source.call_index >= callIndex) return false;
      if (exact) {
        const known = state.knownAt(hash);
        if (known !== -1 && known <= source.call_index) return false;
      }
      let flow = pending.get(source.sequence);
      if (flow === undefined) {
        flow = { source, values: [], exact: false, instruction: false, arguments: [] };
        pending.set(source.sequence, flow);
      }
      flow.exact ||= exact;
      flow.instruction ||= (value & INSTRUCTION_FLAG) !== 0;
      if (flow.values.length < MAX_VALUES_PER_FLOW && !flow.values.includes(shown)) flow.values.push(shown);
      if (!flow.arguments.includes(key)) flow.arguments.push(key);
      return true;
    };
    const visit = (key: string, raw: string): void => {
      if (budget-- <= 0) return;
      const text = raw.length > MAX_ARGUMENT_CHARS ? raw.slice(0, MAX_ARGUMENT_CHARS) : raw;
      const whole = normalizeValue(text);
      if (whole.length === 0) return;
      if (whole.length <= MAX_WHOLE_VALUE) {
        const hash = hashValue(whole);
        remembered.push(hash);
        const single = !whole.includes(" ");
        if (match(key, hash, clipValue(whole), IDENTIFIER_FLAG | INSTRUCTION_FLAG | (single ? WORD_FLAG : 0), true)) {
          bytes += whole.length;
          return;
        }
      }
      forEachIdentifier(text, MAX_ARGUMENT_CHARS, 32, (value) => {
        if (value === whole) return;
        const hash = hashValue(value);
        remembered.push(hash);
        if (match(key, hash, clipValue(value), IDENTIFIER_FLAG, true)) bytes += value.length;
      });
      let coveredUntil = 0;
      forEachShingle(text, MAX_ARGUMENT_CHARS, 64, (hash, start, end) => {
        if (!match(key, hash, clipValue(text.slice(start, end)), SHINGLE_FLAG, false)) return;
        bytes += end - Math.max(start, coveredUntil);
        coveredUntil = end;
      });
    };
    for (const [key, value] of Object.entries(args)) walk(value, 0, (text) => visit(key, text));
    for (const hash of remembered) state.remember(hash, callIndex);
    const flows: FlowSourceMatch[] = [...pending.values()]
      .sort((a, b) => a.source.call_index - b.source.call_index)
      .map((flow) => ({
        from_call: flow.source.call_index,
        from_tool: flow.source.tool,
        poisoned: flow.source.poisoned,
        values: flow.values,
        kind: flow.exact ? "exact" : "fuzzy",
        instruction: flow.instruction,
        arguments: flow.arguments,
      }));
    return { flows, bytes };
  }

  /** Drops what a session kept. */
  endSession(session: string): void {
    this.sessions.delete(session);
  }

  private state(session: string): SessionFlows {
    let state = this.sessions.get(session);
    if (state === undefined) {
      state = new SessionFlows();
      this.sessions.set(session, state);
    }
    return state;
  }

  /**
   * The sentences of a result that read as instructions, in order. Only sentences that hold an identifier
   * are scored in a result that is not poisoned (the question is whether a value came from a request); in a
   * poisoned one every sentence is, up to the cap, to find the injected request's own words.
   */
  private instructionSpans(
    text: string,
    poisoned: boolean,
    identifierStarts: Int32Array,
  ): { start: number; end: number }[] {
    const scorer = this.scorer;
    if (scorer === null || (!poisoned && identifierStarts.length === 0)) return [];
    const clipped = text.length > this.maxResultChars ? text.slice(0, this.maxResultChars) : text;
    const segments = scorer.segments(clipped);
    if (segments.length === 0) return [];
    const spans: { start: number; end: number }[] = [];
    let scored = 0;
    if (poisoned) {
      for (const segment of segments) {
        if (scored++ >= this.maxScoredSegments * 4) break;
        if (scorer.scoreSpan(clipped, segment.start, segment.end) >= this.instructionThreshold) spans.push(segment);
      }
      return spans;
    }
    let index = 0;
    for (const start of identifierStarts) {
      if (scored >= this.maxScoredSegments) break;
      while (index < segments.length && segments[index]!.end <= start) index++;
      const segment = segments[index];
      if (segment === undefined) break;
      if (segment.start > start) continue;
      scored++;
      if (scorer.scoreSpan(clipped, segment.start, segment.end) >= this.instructionThreshold) spans.push(segment);
      // Each segment is scored once: later identifiers in it are already covered.
      index++;
    }
    return spans;
  }
}

/** Calls `visit` for each string (and number) in a JSON value, depth-first, to a bounded depth. */
function walk(value: unknown, depth: number, visit: (text: string) => void): void {
  if (typeof value === "string") visit(value);
  else if (typeof value === "number" && Number.isFinite(value)) visit(String(value));
  else if (depth >= 6 || value === null || typeof value !== "object") return;
  else if (Array.isArray(value)) for (const item of value.slice(0, 64)) walk(item, depth + 1, visit);
  else for (const item of Object.values(value as Record<string, unknown>).slice(0, 64)) walk(item, depth + 1, visit);
}
