import type { Detector, ExchangePosition, FindingSink } from "../../core/detector.js";
import type { CapturedExchange } from "../../core/exchange.js";
import { type Finding, type FindingOrigin, findingOrigin, type Severity } from "../../core/finding.js";
import { argumentStrings, outboundDestination, textEntropy } from "./call-traits.js";

/** Options of {@link SlowExfiltrationDetector}. */
export interface SlowExfiltrationDetectorOptions {
  /** Shortest run of base64 or hex characters read as an encoded chunk. Default 16. */
  min_chunk_chars?: number;
  /** Chunk-carrying calls to one destination for a medium finding. Default 5. */
  medium_calls?: number;
  /** Distinct encoded characters to one destination for a medium finding. Default 1,024. */
  medium_bytes?: number;
  /** Chunk-carrying calls to one destination for a high finding. Default 8. */
  high_calls?: number;
  /** Distinct encoded characters to one destination for a high finding. Default 2,048. */
  high_bytes?: number;
  /** Share of the argument text of the chunk-carrying calls that is encoded, needed for a high finding. Default 0.5. */
  high_encoded_share?: number;
}

const DETECTOR_NAME = "slow_exfiltration";
/** Destinations tracked per session; the rest are not counted (a session sending to dozens is not slow exfiltration). */
const MAX_DESTINATIONS = 16;
/** Chunk hashes kept per destination, so a chunk sent twice counts once. */
const MAX_CHUNK_HASHES = 512;
/** Call indexes kept per destination as evidence. */
const MAX_EVIDENCE_CALLS = 24;
/** Runs of the base64 (standard and URL-safe) and hex alphabets. */
const CHUNK = /[A-Za-z0-9+/_-]{16,}={0,2}/g;

interface DestinationState {
  calls: number;
  encodedChars: number;
  argumentChars: number;
  largestCallChars: number;
  hashes: Set<number>;
  callIndexes: number[];
  samples: string[];
  raised: Severity | null;
}

/**
 * Slow exfiltration: small encoded or high-entropy chunks spread over many outbound calls to one destination,
 * each call small enough to pass DLP, the session's total not.
 *
 * A call is outbound when its tool name carries a sending verb or its arguments name a destination (see
 * `call-traits.ts`); the destination is the URL host or the recipient. In its argument strings, chunks are
 * runs of the base64 or hex alphabets of at least 16 characters that mix character classes and have high
 * Shannon entropy (words, identifiers and account numbers do not). Per session and destination the detector
 * sums the distinct encoded characters and counts the calls that carried any. Medium from 5 such calls and
 * 1 KB; high from 8 calls and 2 KB when at least half of those calls' argument text is encoded.
 */
export class SlowExfiltrationDetector implements Detector {
  readonly name = DETECTOR_NAME;
  private readonly minChunk: number;
  private readonly mediumCalls: number;
  private readonly mediumBytes: number;
  private readonly highCalls: number;
  private readonly highBytes: number;
  private readonly highShare: number;
  private readonly sessions = new Map<string, Map<string, DestinationState>>();

  constructor(options: SlowExfiltrationDetectorOptions = {}) {
    this.minChunk = options.min_chunk_chars ?? 16;
    this.mediumCalls = options.medium_calls ?? 5;
    this.mediumBytes = options.medium_bytes ?? 1024;
    this.highCalls = options.high_calls ?? 8;
    this.highBytes = options.high_bytes ?? 2048;
    this.highShare = options.high_encoded_share ?? 0.5;
  }

  observe(exchange: CapturedExchange, position: ExchangePosition, emit: FindingSink): void {
    if (position.call_index === null || typeof exchange.tool !== "string" || !exchange.arguments) return;
    const strings = argumentStrings(exchange.arguments);
    if (strings.length === 0) return;
    const destination = outboundDestination(exchange.tool, strings);
    if (destination === null) return;
    let argumentChars = 0;
    const chunks: string[] = [];
    for (const entry of strings) {
      argumentChars += entry.value.length;
      // The destination itself (an address, an account) is not payload.
      if (entry.value.trim().toLowerCase() === destination) continue;
      if (entry.value.length >= this.minChunk) collectChunks(entry.value, this.minChunk, chunks);
    }
    if (chunks.length === 0) return;
    let destinations = this.sessions.get(exchange.session);
    if (destinations === undefined) {
      destinations = new Map();
      this.sessions.set(exchange.session, destinations);
    }
    let state = destinations.get(destination);
    if (state === undefined) {
      if (destinations.size >= MAX_DESTINATIONS) return;
      state = {
        calls: 0,
        encodedChars: 0,
        argumentChars: 0,
        largestCallChars: 0,
        hashes: new Set(),
        callIndexes: [],
        samples: [],
        raised: null,
      };
      destinations.set(destination, state);
    }
    let added = 0;
    for (const chunk of chunks) {
      const hash = fnv1a(chunk);
      if (state.hashes.has(hash)) continue;
      if (state.hashes.size < MAX_CHUNK_HASHES) state.hashes.add(hash);
      added += chunk.length;
      if (state.samples.length < 3) state.samples.push(chunk.length > 24 ? `${chunk.slice(0, 24)}…` : chunk);
    }
    if (added === 0) return;
    state.calls++;
    state.encodedChars += added;
    state.argumentChars += argumentChars;
    if (added > state.largestCallChars) state.largestCallChars = added;
    if (state.callIndexes.length < MAX_EVIDENCE_CALLS) state.callIndexes.push(position.call_index);
    else state.callIndexes[MAX_EVIDENCE_CALLS - 1] = position.call_index;
    const severity = this.severityOf(state);
    if (severity === null || state.raised === severity || state.raised === "high") return;
    state.raised = severity;
    emit(this.finding(exchange, position, destination, state, severity));
  }

  endSession(session: string): void {
    this.sessions.delete(session);
  }

  async shutdown(): Promise<void> {
    this.sessions.clear();
  }

  private severityOf(state: DestinationState): Severity | null {
    if (state.calls < this.mediumCalls || state.encodedChars < this.mediumBytes) return null;
    const share = state.encodedChars / Math.max(1, state.argumentChars);
    if (state.calls >= this.highCalls && state.encodedChars >= this.highBytes && share >= this.highShare) return "high";
    return "medium";
  }

  private finding(
    exchange: CapturedExchange,
    position: ExchangePosition,
    destination: string,
    state: DestinationState,
    severity: Severity,
  ): Finding {
    const share = state.encodedChars / Math.max(1, state.argumentChars);
    const score = Math.min(1, 0.4 + 0.03 * state.calls + state.encodedChars / 20_000 + 0.2 * share);
    // Object.assign, not a spread of the origin: V8 copies a spread object far more slowly.
    return Object.assign<FindingOrigin, Omit<Finding, keyof FindingOrigin>>(
      findingOrigin(exchange, position.call_index, DETECTOR_NAME),
      {
        category: "slow_exfiltration",
        severity,
        score: Math.round(score * 1000) / 1000,
        message: `${state.calls} outbound calls sent ${state.encodedChars} characters of encoded, high-entropy data to ${destination} in chunks of at most ${state.largestCallChars} (threshold ${this.mediumCalls} calls and ${this.mediumBytes} characters per destination); block the destination and inspect what was encoded.`,
        evidence: {
          destination,
          call_indexes: [...state.callIndexes],
          chunk_calls: state.calls,
          encoded_chars: state.encodedChars,
          largest_call_chars: state.largestCallChars,
          encoded_share: Math.round(share * 1000) / 1000,
          samples: [...state.samples],
          thresholds: {
            medium_calls: this.mediumCalls,
            medium_chars: this.mediumBytes,
            high_calls: this.highCalls,
            high_chars: this.highBytes,
            high_encoded_share: this.highShare,
          },
          baseline: "outbound calls carry no encoded payload",
        },
      },
    );
  }
}

/** Appends the encoded, high-entropy runs of `text` to `chunks`. */
export function collectChunks(text: string, minimum: number, chunks: string[]): void {
  CHUNK.lastIndex = 0;
  for (let match = CHUNK.exec(text); match !== null; match = CHUNK.exec(text)) {
    const run = match[0];
    if (run.length >= minimum && looksEncoded(run)) chunks.push(run);
  }
}

/**
 * True when a run of base64/hex characters looks like encoded data rather than a word, a path segment or an
 * account number: it mixes letters with digits (base64 also both cases, with few separators), and its Shannon
 * entropy is close to what random data of its alphabet and length would give.
 */
export function looksEncoded(run: string): boolean {
  let lower = 0;
  let upper = 0;
  let digits = 0;
  let symbols = 0;
  let hexOnly = true;
  for (let index = 0; index < run.length; index++) {
    const code = run.charCodeAt(index);
    if (code >= 97 && code <= 122) {
      lower++;
      if (code > 102) hexOnly = false;
    } else if (code >= 65 && code <= 90) {
      upper++;
      if (code > 70) hexOnly = false;
    } else if (code >= 48 && code <= 57) digits++;
    else if (code !== 61) {
      symbols++;
      hexOnly = false;
    }
  }
  const letters = lower + upper;
  const classes = (lower > 0 ? 1 : 0) + (upper > 0 ? 1 : 0) + (digits > 0 ? 1 : 0) + (symbols > 0 ? 1 : 0);
  if (hexOnly && digits > 0 && letters > 0) {
    // Random hex: entropy near 4 bits for long runs; an account number of mostly one digit is far below.
    return textEntropy(run) >= Math.min(3.3, Math.log2(run.length) - 1);
  }
  if (classes < 3 || digits === 0 || letters === 0) return false;
  // Random base64 holds a separator-like character (+ / - _) once in 32; identifiers and paths hold far more.
  if (symbols * 8 > run.length) return false;
  // Random base64 of n characters has entropy close to log2(min(n, 64)); identifiers fall short.
  return textEntropy(run) >= Math.min(4.4, Math.log2(run.length) - 0.9);
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
