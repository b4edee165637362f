import { TextMemo } from "./text-memo.js";
import {
  clipValue,
  forEachIdentifier,
  forEachIdentifierHash,
  forEachIdentifierHashAfter,
  forEachShingle,
  forEachShingleAfter,
  hashValue,
  normalizeValue,
  QUERY_VALUE,
  wordHashes,
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
  /**
   * Those of `arguments` where the flow's values rode only in a URL's query (`?user=<an e-mail address>`): data
   * sent out by the address itself, even when the argument only names where the call goes; the rest of the
   * address did not come from this result.
   */
  query_arguments: string[];
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
  /**
   * 0..1: how much `text[start, end)` reads as an instruction aimed at the reader; `index`, when given, is the
   * span's position in `segments(text)`, so a scorer can remember scores by segment.
   */
  scoreSpan(text: string, start: number, end: number, index?: number): number;
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
  /**
   * Results a session looks values up in by reference, before it keeps their values in tables of its own
   * (answers are the same either way; see {@link DataFlowTracker}). Default 8, at most 16; 0 puts every result's
   * values in the session's tables at once.
   */
  held_results?: number;
}

/** What a result text leaves, whichever session reads it: hashes only, in typed arrays. */
interface ResultFingerprint {
  /** Hashes of the identifier-like tokens, in order of offset. */
  readonly identifiers: Int32Array;
  /** Offsets of those tokens. */
  readonly starts: Positions;
  /** Hashes of the sampled shingles. */
  readonly shingles: Int32Array;
  /** Offset of the last character of each shingle (so a text that shares lines with this one can reuse it). */
  readonly shingle_lasts: Positions;
  /** Per identifier, 1 when in an instruction sentence of the result read as not poisoned; `null` until needed. */
  plain_instructions: Uint8Array | null;
  /** The same, read as poisoned (every sentence scored). */
  poisoned_instructions: Uint8Array | null;
  /** Hashes of the words of the instruction sentences, read as poisoned. */
  instruction_words: Int32Array | null;
}

/** Offsets in a result's text: 16 bits each when the text read is no longer than 65,536 characters. */
type Positions = Uint16Array | Int32Array;

function fingerprintBytes(print: ResultFingerprint): number {
  return (
    print.identifiers.byteLength +
    print.starts.byteLength +
    print.shingles.byteLength +
    print.shingle_lasts.byteLength +
    (print.plain_instructions?.byteLength ?? 0) +
    (print.poisoned_instructions?.byteLength ?? 0) +
    (print.instruction_words?.byteLength ?? 0) +
    7 * 64
  );
}

const TABLE_SIZE = 1024;
/** A generation is retired at half load, so probing stays short and memory is fixed. */
const GENERATION_LIMIT = TABLE_SIZE / 2;
const KNOWN_SIZE = 512;
const KNOWN_LIMIT = KNOWN_SIZE / 2;
/**
 * Fewest slots of a table: a session's tables are sized for the hashes they hold (most sessions are a few
 * calls long and hold a few hundred), so they reach their full size only in long sessions.
 */
const SMALLEST_TABLE_SIZE = 8;
const SOURCE_RING = 64;
const SEQUENCE_MASK = 0xffff;
/** Most results a session holds by reference before it puts their hashes in its table, by default. */
const HELD_RESULTS = 8;
/** The most `held_results` may be: each result held costs its fingerprint's arrays and objects. */
const MAX_HELD_RESULTS = 16;
/** Bits of a session's filter of held hashes: looking up a hash no held result has costs one bit test. */
const FILTER_BITS = 2048;
const FILTER_MASK = FILTER_BITS - 1;
const FILTER_WORDS = FILTER_BITS / 32;

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
const EMPTY_HASHES = new Int32Array(0);

/**
 * An open-addressing table of 31-bit hashes (never 0) to 32-bit values, keys and values side by side in one
 * array, at most half full: it doubles at half load up to `maximumSize` slots, past which the owner retires
 * or clears it. What it answers does not depend on its size.
 */
class HashTable {
  private slots: Int32Array;
  private mask: number;
  private readonly maximumSize: number;
  count = 0;

  constructor(initialSize: number, maximumSize: number) {
    this.slots = new Int32Array(initialSize * 2);
    this.mask = initialSize - 1;
    this.maximumSize = maximumSize;
  }

  /** Makes room for `more` hashes (up to the maximum size), so that adding them does not grow the table step by step. */
  reserve(more: number): void {
    const wanted = Math.min(this.maximumSize, (this.count + more) * 2);
    let size = this.mask + 1;
    while (size < wanted) size *= 2;
    if (size > this.mask + 1) this.resize(size);
  }

  /** The value kept for `hash`, or `missing`. */
  get(hash: number, missing: number): number {
    const slots = this.slots;
    let slot = hash & this.mask;
    for (;;) {
      const key = slots[slot * 2]!;
      if (key === 0) return missing;
      if (key === hash) return slots[slot * 2 + 1]!;
      slot = (slot + 1) & this.mask;
    }
  }

  /** The slot holding `hash`, or the empty slot where it goes. */
  slotOf(hash: number): number {
    const slots = this.slots;
    let slot = hash & this.mask;
    for (;;) {
      const key = slots[slot * 2]!;
      if (key === 0 || key === hash) return slot;
      slot = (slot + 1) & this.mask;
    }
  }

  has(slot: number): boolean {
    return this.slots[slot * 2] !== 0;
  }

  valueAt(slot: number): number {
    return this.slots[slot * 2 + 1]!;
  }

  setValueAt(slot: number, value: number): void {
    this.slots[slot * 2 + 1] = value;
  }

  /** Adds `hash`, which {@link slotOf} found missing at `slot`. */
  insert(slot: number, hash: number, value: number): void {
    if ((this.count + 1) * 2 > this.mask + 1 && this.mask + 1 < this.maximumSize) {
      this.resize((this.mask + 1) * 2);
      slot = this.slotOf(hash);
    }
    this.slots[slot * 2] = hash;
    this.slots[slot * 2 + 1] = value;
    this.count++;
  }

  clear(): void {
    this.slots.fill(0);
    this.count = 0;
  }

  private resize(size: number): void {
    const old = this.slots;
    this.slots = new Int32Array(size * 2);
    this.mask = size - 1;
    for (let index = 0; index < old.length; index += 2) {
      const key = old[index]!;
      if (key === 0) continue;
      let slot = key & this.mask;
      while (this.slots[slot * 2] !== 0) slot = (slot + 1) & this.mask;
      this.slots[slot * 2] = key;
      this.slots[slot * 2 + 1] = old[index + 1]!;
    }
  }
}

function strength(value: number): number {
  return (value & POISONED_FLAG ? 2 : 0) + (value & INSTRUCTION_FLAG ? 1 : 0);
}

const MAXIMUM_STRENGTH = 3;

interface Source {
  sequence: number;
  call_index: number;
  tool: string;
  poisoned: boolean;
}

/** A result a session holds instead of putting its hashes in its table. */
interface HeldResult {
  print: ResultFingerprint;
  /** The reading's instruction flags per identifier (`null`: none). */
  in_instruction: Uint8Array | null;
  /** Read as poisoned: its instruction words count too. */
  poisoned: boolean;
  /** Source sequence and poisoned flag, as the table's values carry them. */
  base: number;
}

/**
 * What one session keeps: about 20 KB at most whatever the traffic, a few KB for a short session.
 *
 * A session starts by holding its results' fingerprints (shared with the memo of fingerprints) instead of putting
 * their hashes in a table: most sessions are a few calls long, and putting every hash of every result cost more
 * than the lookups it served. While the results held have fewer than {@link GENERATION_LIMIT} hashes in all, the
 * table would not have retired a generation yet, so what it would answer for a hash is what looking the hash up
 * in the results held, oldest first, answers: the first of the strongest values put. Past that, or past
 * `DataFlowTrackerOptions.held_results` results (8 by default), the session puts the held results' hashes in its
 * table in the order it would have, and every later result's too.
 */
class SessionFlows {
  /** Most results held (`DataFlowTrackerOptions.held_results`). */
  private readonly holds: number;
  /** Hashes of results' values to (source sequence, flags); `null` while the session holds its results. */
  current: HashTable | null = null;
  previous: HashTable | null = null;
  /** The results held, oldest first. */
  readonly held: HeldResult[] = [];
  /** Hashes the results held put, in all (repeats counted). */
  heldPuts = 0;
  /** Bit `hash & FILTER_MASK` set for each hash of the results held; made with the first. */
  filter: Int32Array | null = null;
  /** The last {@link SOURCE_RING} results, by sequence; filled in order, so it never has holes. */
  readonly sources: Source[] = [];
  sequence = 0;
  /** Values seen in the session's arguments, with the call that first carried them; made at the first call. */
  known: HashTable | null = null;

  constructor(holds: number) {
    this.holds = holds;
  }

  /** Remembers the values of a result: held while the session can hold it (see the class), put otherwise. */
  add(print: ResultFingerprint, inInstruction: Uint8Array | null, poisoned: boolean, base: number): void {
    const words = poisoned ? print.instruction_words! : EMPTY_HASHES;
    const puts = print.identifiers.length + print.shingles.length + words.length;
    if (this.current === null) {
      if (puts === 0) return;
      if (this.held.length < this.holds && this.heldPuts + puts < GENERATION_LIMIT) {
        this.held.push({ print, in_instruction: inInstruction, poisoned, base });
        this.heldPuts += puts;
        this.filter ??= new Int32Array(FILTER_WORDS);
        const filter = this.filter;
        addToFilter(filter, print.identifiers);
        addToFilter(filter, print.shingles);
        addToFilter(filter, words);
        return;
      }
      // The table starts with what the results held would have left in it: fewer than GENERATION_LIMIT hashes,
      // put in the same order, so it is the very table putting them as they came would have made.
      this.current = new HashTable(SMALLEST_TABLE_SIZE, TABLE_SIZE);
      this.current.reserve(this.heldPuts + puts);
      for (const held of this.held) this.putAll(held.print, held.in_instruction, held.poisoned, held.base);
      this.held.length = 0;
      this.heldPuts = 0;
      this.filter = null;
    }
    this.current.reserve(Math.min(puts, GENERATION_LIMIT));
    this.putAll(print, inInstruction, poisoned, base);
  }

  /** Puts a result's hashes: identifiers, shingles, then (poisoned) its instruction words. */
  private putAll(print: ResultFingerprint, inInstruction: Uint8Array | null, poisoned: boolean, base: number): void {
    const identifiers = print.identifiers;
    for (let index = 0; index < identifiers.length; index++) {
      const instruction = inInstruction !== null && inInstruction[index] === 1;
      this.put(identifiers[index]!, base | IDENTIFIER_FLAG | (instruction ? INSTRUCTION_FLAG : 0));
    }
    const shingles = print.shingles;
    for (let index = 0; index < shingles.length; index++) this.put(shingles[index]!, base | SHINGLE_FLAG);
    if (poisoned) {
      // Short values an injected instruction names (a file id, an amount) only count when a whole argument equals one.
      const words = print.instruction_words!;
      for (let index = 0; index < words.length; index++) this.put(words[index]!, base | WORD_FLAG | INSTRUCTION_FLAG);
    }
  }

  /** Keeps the first source of a value unless the new one is stronger evidence (poisoned, an instruction). */
  private put(hash: number, value: number): void {
    let table = this.current!;
    if (table.count >= GENERATION_LIMIT) {
      // The oldest generation goes: values of recent results are the ones later calls use.
      const retired = this.previous ?? new HashTable(TABLE_SIZE, TABLE_SIZE);
      retired.clear();
      this.previous = table;
      this.current = retired;
      table = retired;
    }
    const slot = table.slotOf(hash);
    if (!table.has(slot)) table.insert(slot, hash, value);
    else if (strength(value) > strength(table.valueAt(slot))) table.setValueAt(slot, value);
  }

  get(hash: number): number {
    const current = this.current;
    if (current !== null) {
      const value = current.get(hash, 0);
      if (value !== 0) return value;
      return this.previous?.get(hash, 0) ?? 0;
    }
    const filter = this.filter;
    if (filter === null || (filter[(hash & FILTER_MASK) >>> 5]! & (1 << (hash & 31))) === 0) return 0;
    // What the table would keep: the first value put, unless a later one is stronger.
    let found = 0;
    let foundStrength = -1;
    for (const held of this.held) {
      const flags = heldFlags(held, hash);
      if (flags === 0) continue;
      const value = held.base | flags;
      const valueStrength = strength(value);
      if (valueStrength > foundStrength) {
        found = value;
        foundStrength = valueStrength;
        if (valueStrength === MAXIMUM_STRENGTH) break;
      }
    }
    return found;
  }

  source(value: number): Source | undefined {
    const sequence = value >>> 8;
    const source = this.sources[sequence % SOURCE_RING];
    return source !== undefined && (source.sequence & SEQUENCE_MASK) === sequence ? source : undefined;
  }

  /** The call that first carried `hash` in its arguments, or -1. */
  knownAt(hash: number): number {
    return this.known === null ? -1 : this.known.get(hash, -1);
  }

  remember(hash: number, callIndex: number): void {
    this.known ??= new HashTable(SMALLEST_TABLE_SIZE, KNOWN_SIZE);
    const known = this.known;
    if (known.count >= KNOWN_LIMIT) known.clear();
    const slot = known.slotOf(hash);
    if (!known.has(slot)) known.insert(slot, hash, callIndex);
  }
}

function addToFilter(filter: Int32Array, hashes: Int32Array): void {
  for (let index = 0; index < hashes.length; index++) {
    const hash = hashes[index]!;
    filter[(hash & FILTER_MASK) >>> 5]! |= 1 << (hash & 31);
  }
}

/**
 * The flags (no sequence, no poisoned flag) a held result's puts leave for `hash`, or 0 when it put none: the
 * first put of the strongest. In put order, identifiers (an instruction when flagged), shingles, then the
 * instruction words of a poisoned reading; only instruction identifiers and words are stronger than the rest.
 */
function heldFlags(held: HeldResult, hash: number): number {
  const identifiers = held.print.identifiers;
  const first = identifiers.indexOf(hash);
  const flags = held.in_instruction;
  if (first !== -1 && flags !== null) {
    for (let index = first; index !== -1; index = identifiers.indexOf(hash, index + 1)) {
      if (flags[index] === 1) return IDENTIFIER_FLAG | INSTRUCTION_FLAG;
    }
  }
  if (held.poisoned && held.print.instruction_words!.includes(hash)) return WORD_FLAG | INSTRUCTION_FLAG;
  if (first !== -1) return IDENTIFIER_FLAG;
  return held.print.shingles.includes(hash) ? SHINGLE_FLAG : 0;
}

interface PendingFlow {
  source: Source;
  values: string[];
  exact: boolean;
  instruction: boolean;
  arguments: string[];
  /** Arguments where a value of the flow rode in a URL's query, and where one did not. */
  queryArguments: string[];
  plainArguments: string[];
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
 * Memory is bounded per session (two generations of at most 1,024 hash slots, the oldest dropped, plus 512
 * argument hashes; tables sized to what they hold; or, while a session is short, references to at most
 * `held_results` of its results' fingerprints, fewer than 512 hashes in all, and a 256-byte filter): about 20 KB
 * at most. Synchronous and never throws on odd input, so the inline guard can call it before forwarding a call.
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
  private readonly heldResults: number;
  /** Where {@link fingerprint} collects a result's hashes (as many as the limits let it find). */
  private readonly scratch: {
    identifiers: Int32Array;
    starts: Int32Array;
    shingles: Int32Array;
    shingleLasts: Int32Array;
  };

  constructor(options: DataFlowTrackerOptions = {}) {
    this.scorer = options.scorer ?? null;
    this.instructionThreshold = options.instruction_threshold ?? 0.2;
    this.maxResultChars = options.max_result_chars ?? 65_536;
    this.maxIdentifiers = options.max_identifiers_per_result ?? 256;
    this.maxShingles = options.max_shingles_per_result ?? 192;
    this.maxScoredSegments = options.max_scored_segments ?? 24;
    this.memo = new TextMemo(options.fingerprint_memo_bytes ?? 32 * 1024 * 1024, { similar: true });
    this.heldResults = Math.min(MAX_HELD_RESULTS, Math.max(0, Math.floor(options.held_results ?? HELD_RESULTS)));
    this.scratch = {
      identifiers: new Int32Array(256),
      starts: new Int32Array(256),
      shingles: new Int32Array(256),
      shingleLasts: new Int32Array(256),
    };
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
    state.add(print, inInstruction, poisoned, (sequence << 8) | (poisoned ? POISONED_FLAG : 0));
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
    // A text that shares its first lines with one read before (the same inbox with a new message, a listing with
    // an item changed) is read from the first line that differs: the values before it are the other text's.
    const similar = this.memo.similar(text);
    const from = similar === undefined ? 0 : sharedLines(similar.text, text, this.maxResultChars);
    const earlier = similar?.value;
    // Collected in the tracker's scratch arrays, then copied at their exact size into the fingerprint.
    const scratch = this.scratch;
    let identifierCount = 0;
    const addIdentifier = (hash: number, start: number): void => {
      if (identifierCount === scratch.identifiers.length) {
        scratch.identifiers = grown(scratch.identifiers);
        scratch.starts = grown(scratch.starts);
      }
      scratch.identifiers[identifierCount] = hash;
      scratch.starts[identifierCount++] = start;
    };
    let identifiersRead = false;
    // Only a complete reading of the other text (fewer values than the cap) says which values come before `from`.
    if (from > 0 && earlier !== undefined && earlier.identifiers.length < this.maxIdentifiers) {
      while (identifierCount < earlier.identifiers.length && earlier.starts[identifierCount]! < from) {
        addIdentifier(earlier.identifiers[identifierCount]!, earlier.starts[identifierCount]!);
      }
      const already = identifierCount;
      identifiersRead =
        forEachIdentifierHashAfter(text, this.maxResultChars, this.maxIdentifiers, from, already, addIdentifier) !== -1;
      if (!identifiersRead) identifierCount = 0;
    }
    if (!identifiersRead) forEachIdentifierHash(text, this.maxResultChars, this.maxIdentifiers, addIdentifier);
    let shingleCount = 0;
    const addShingle = (hash: number, _start: number, end: number): void => {
      if (shingleCount === scratch.shingles.length) {
        scratch.shingles = grown(scratch.shingles);
        scratch.shingleLasts = grown(scratch.shingleLasts);
      }
      scratch.shingles[shingleCount] = hash;
      scratch.shingleLasts[shingleCount++] = end - 1;
    };
    let shinglesRead = false;
    if (from > 0 && earlier !== undefined) {
      while (shingleCount < earlier.shingles.length && earlier.shingle_lasts[shingleCount]! < from - 1) {
        addShingle(earlier.shingles[shingleCount]!, 0, earlier.shingle_lasts[shingleCount]! + 1);
      }
      shinglesRead =
        forEachShingleAfter(text, this.maxResultChars, this.maxShingles, from, shingleCount, addShingle) !== -1;
      if (!shinglesRead) shingleCount = 0;
    }
    if (!shinglesRead) forEachShingle(text, this.maxResultChars, this.maxShingles, addShingle);
    const print: ResultFingerprint = {
      identifiers: scratch.identifiers.slice(0, identifierCount),
      starts: this.positions(scratch.starts, identifierCount),
      shingles: scratch.shingles.slice(0, shingleCount),
      shingle_lasts: this.positions(scratch.shingleLasts, shingleCount),
      plain_instructions: null,
      poisoned_instructions: null,
      instruction_words: null,
    };
    this.memo.set(text, print, fingerprintBytes(print));
    return print;
  }

  /** The first `count` offsets of `scratch`, at 16 bits each when every offset read fits. */
  private positions(scratch: Int32Array, count: number): Positions {
    return this.maxResultChars <= 65_536 ? new Uint16Array(scratch.subarray(0, count)) : scratch.slice(0, count);
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
        for (const hash of wordHashes(text.slice(span.start, span.end), 64)) words.push(hash);
      }
      print.instruction_words = new Int32Array(words);
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
    // Most calls trace to nothing: the map is made at the first flow.
    let pending: Map<number, PendingFlow> | null = null;
    const remembered: number[] = [];
    let bytes = 0;
    let budget = MAX_ARGUMENT_VALUES;
    // The flow a value of argument `key` came from, or `null`; the caller adds the value shown as evidence, made
    // only when the flow has room for it (most lookups find nothing, and a string per lookup is most of their cost).
    const match = (key: string, hash: number, accept: number, exact: boolean, inQuery = false): PendingFlow | null => {
      const value = state.get(hash);
      if (value === 0 || (value & accept) === 0) return null;
      const source = state.source(value);
      if (source === undefined || source.call_index >= callIndex) return null;
      if (exact) {
        const known = state.knownAt(hash);
        if (known !== -1 && known <= source.call_index) return null;
      }
      pending ??= new Map();
      let flow = pending.get(source.sequence);
      if (flow === undefined) {
        flow = {
          source,
          values: [],
          exact: false,
          instruction: false,
          arguments: [],
          queryArguments: [],
          plainArguments: [],
        };
        pending.set(source.sequence, flow);
      }
      flow.exact ||= exact;
      flow.instruction ||= (value & INSTRUCTION_FLAG) !== 0;
      if (!flow.arguments.includes(key)) flow.arguments.push(key);
      const where = inQuery ? flow.queryArguments : flow.plainArguments;
      if (!where.includes(key)) where.push(key);
      return flow;
    };
    // The argument value being read, shared with the two callbacks below (made once per call, not per value).
    let key = "";
    let text = "";
    let whole = "";
    let coveredUntil = 0;
    const onIdentifier = (value: string, _start: number, origin: number): void => {
      if (value === whole) return;
      const hash = hashValue(value);
      remembered.push(hash);
      const flow = match(key, hash, IDENTIFIER_FLAG, true, origin === QUERY_VALUE);
      if (flow === null) return;
      if (flow.values.length < MAX_VALUES_PER_FLOW) addShown(flow, clipValue(value));
      bytes += value.length;
    };
    const onShingle = (hash: number, start: number, end: number): void => {
      const flow = match(key, hash, SHINGLE_FLAG, false);
      if (flow === null) return;
      if (flow.values.length < MAX_VALUES_PER_FLOW) addShown(flow, clipValue(text.slice(start, end)));
      bytes += end - Math.max(start, coveredUntil);
      coveredUntil = end;
    };
    const visit = (argument: string, raw: string): void => {
      if (budget-- <= 0) return;
      key = argument;
      text = raw.length > MAX_ARGUMENT_CHARS ? raw.slice(0, MAX_ARGUMENT_CHARS) : raw;
      whole = normalizeValue(text);
      if (whole.length === 0) return;
      if (whole.length <= MAX_WHOLE_VALUE) {
        const hash = hashValue(whole);
        remembered.push(hash);
        const single = !whole.includes(" ");
        const flow = match(key, hash, IDENTIFIER_FLAG | INSTRUCTION_FLAG | (single ? WORD_FLAG : 0), true);
        if (flow !== null) {
          if (flow.values.length < MAX_VALUES_PER_FLOW) addShown(flow, clipValue(whole));
          bytes += whole.length;
          return;
        }
      }
      forEachIdentifier(text, MAX_ARGUMENT_CHARS, 32, onIdentifier);
      coveredUntil = 0;
      forEachShingle(text, MAX_ARGUMENT_CHARS, 64, onShingle);
    };
    for (const name of Object.keys(args)) walk(args[name], 0, name, visit);
    for (const hash of remembered) state.remember(hash, callIndex);
    if (pending === null) return { flows: [], bytes };
    const flows: FlowSourceMatch[] = [...(pending as Map<number, PendingFlow>).values()]
      .sort((a, b) => a.source.call_index - b.source.call_index)
      .map((flow) => ({
        from_call: flow.source.call_index,
        from_tool: flow.source.tool,
        poisoned: flow.source.poisoned,
        values: flow.values,
        kind: flow.exact ? "exact" : "fuzzy",
        instruction: flow.instruction,
        arguments: flow.arguments,
        query_arguments: flow.queryArguments.filter((name) => !flow.plainArguments.includes(name)),
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
      state = new SessionFlows(this.heldResults);
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
    identifierStarts: Positions,
  ): { start: number; end: number }[] {
    const scorer = this.scorer;
    if (scorer === null || (!poisoned && identifierStarts.length === 0)) return [];
    const clipped = text.length > this.maxResultChars ? text.slice(0, this.maxResultChars) : text;
    const segments = scorer.segments(clipped);
    if (segments.length === 0) return [];
    const spans: { start: number; end: number }[] = [];
    let scored = 0;
    if (poisoned) {
      for (let index = 0; index < segments.length; index++) {
        if (scored++ >= this.maxScoredSegments * 4) break;
        const segment = segments[index]!;
        if (scorer.scoreSpan(clipped, segment.start, segment.end, index) >= this.instructionThreshold) {
          spans.push(segment);
        }
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
      if (scorer.scoreSpan(clipped, segment.start, segment.end, index) >= this.instructionThreshold) {
        spans.push(segment);
      }
      // Each segment is scored once: later identifiers in it are already covered.
      index++;
    }
    return spans;
  }
}

/** Characters {@link sharedLines} compares at once while the texts agree. */
const SHARED_BLOCK = 1024;

/**
 * Where reading `text` can start from what reading `earlier` found: the start of the last line that begins within
 * their common prefix (clipped at `limit`), or 0.
 */
function sharedLines(earlier: string, text: string, limit: number): number {
  const bound = Math.min(earlier.length, text.length, limit);
  let shared = 0;
  // Equal blocks are skipped by comparing slices, which the engine does natively, about twenty times faster than
  // reading character codes here: the two texts usually share most of their length (the same inbox, one more mail).
  while (
    shared + SHARED_BLOCK <= bound &&
    earlier.slice(shared, shared + SHARED_BLOCK) === text.slice(shared, shared + SHARED_BLOCK)
  ) {
    shared += SHARED_BLOCK;
  }
  while (shared < bound && earlier.charCodeAt(shared) === text.charCodeAt(shared)) shared++;
  return shared === 0 ? 0 : text.lastIndexOf("\n", shared - 1) + 1;
}

/** A copy of `array` twice as long. */
function grown(array: Int32Array): Int32Array {
  const larger = new Int32Array(array.length * 2);
  larger.set(array);
  return larger;
}

/** Adds a value to a flow's evidence unless it is there already. */
function addShown(flow: PendingFlow, shown: string): void {
  if (!flow.values.includes(shown)) flow.values.push(shown);
}

/** Calls `visit` for each string (and number) in a JSON value, depth-first, to a bounded depth. */
function walk(value: unknown, depth: number, key: string, visit: (key: string, text: string) => void): void {
  if (typeof value === "string") visit(key, value);
  else if (typeof value === "number" && Number.isFinite(value)) visit(key, String(value));
  else if (depth >= 6 || value === null || typeof value !== "object") return;
  else {
    const items = Array.isArray(value) ? value : Object.values(value as Record<string, unknown>);
    const count = Math.min(items.length, 64);
    for (let index = 0; index < count; index++) walk(items[index], depth + 1, key, visit);
  }
}
