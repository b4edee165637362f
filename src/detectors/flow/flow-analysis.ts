import { z } from "zod";
import type { ExchangePosition } from "../../core/detector.js";
import type { CapturedExchange } from "../../core/exchange.js";
import { DlpEngine, defaultDlpSettings } from "../../defence/dlp/index.js";
import { PoisoningClassifier, type PoisoningVerdict } from "../../defence/poisoning/poisoning-classifier.js";
import { decidedByRules, flaggedByRules } from "../../defence/poisoning/signals.js";
import { jsonMap } from "../json-map.js";
import { describeStateError } from "../state-errors.js";
import { DataFlowTracker, type FlowTrace, type InstructionScorer } from "./data-flow-tracker.js";
import { type EnactedRequest, findEnactedRequest, requestSearchText } from "./enacted-request.js";
import { namesAuthor } from "./parties.js";
import {
  RequestSources,
  type RoutineRequest,
  requestSourcesSchema,
  type SavedRequestSources,
} from "./request-sources.js";
import { TextMemo } from "./text-memo.js";
import { isSensitive, type ToolCapabilities, toolCapabilities } from "./tool-capabilities.js";
import { clipValue, hashValue, normalizeValue } from "./value-tokens.js";

/** What the flow detectors need of a poisoning classifier: `PoisoningClassifier.inspect`. */
export interface PoisoningVerdictSource {
  inspect(text: string, kind: "result" | "description"): PoisoningVerdict;
}

/**
 * A poisoning classifier that remembers its last few verdicts by text. The poisoning detector and the flow
 * detectors look at the same result one after the other: shared through this, the model runs once.
 */
export class RecentPoisoningVerdicts implements PoisoningVerdictSource {
  readonly classifier: PoisoningClassifier;
  private readonly texts: string[] = [];
  private readonly kinds: string[] = [];
  private readonly verdicts: PoisoningVerdict[] = [];
  private next = 0;

  constructor(classifier: PoisoningClassifier = new PoisoningClassifier()) {
    this.classifier = classifier;
  }

  inspect(text: string, kind: "result" | "description"): PoisoningVerdict {
    for (let index = 0; index < this.texts.length; index++) {
      if (this.kinds[index] === kind && this.texts[index] === text) return this.verdicts[index]!;
    }
    const verdict = this.classifier.inspect(text, kind);
    const slot = this.next;
    this.next = (this.next + 1) % 4;
    this.texts[slot] = text;
    this.kinds[slot] = kind;
    this.verdicts[slot] = verdict;
    return verdict;
  }
}

/** An earlier read whose content is sensitive. */
export interface SensitiveRead {
  call_index: number;
  tool: string;
  /** `secret`: credentials, keys, tokens; `personal`: card or social security numbers, contact records; `credential_path`: a read of a credential-looking file or resource. */
  kind: "secret" | "personal" | "credential_path";
  /** DLP types found, or the path read. */
  detail: string[];
}

/** A poisoned result earlier in the session. */
export interface PoisonedResult {
  call_index: number;
  tool: string;
  score: number;
}

/** Everything the flow detectors look at for one `tools/call`, worked out once. */
export interface CallAnalysis {
  session: string;
  call_index: number;
  tool: string;
  capabilities: ToolCapabilities;
  /** Where the arguments' values came from (earlier results only). */
  trace: FlowTrace;
  /** The tool was not called before in this session. */
  new_tool: boolean;
  /** Whether the agent type used this tool in the baseline traffic; `null` when nothing was learned for it. */
  tool_in_baseline: boolean | null;
  /** Destination values (recipients, URLs, accounts) not used before in this session, clipped. */
  new_destinations: string[];
  /** The poisoned results before this call, oldest first (at most 8). */
  poisoned_before: PoisonedResult[];
  /** Sensitive reads before this call (at most 16, the newest). */
  sensitive_reads: SensitiveRead[];
  /** Secrets (DLP types) in this call's arguments that an earlier result of the session held. */
  secrets_out: string[];
  /**
   * A sentence of the result just before this call (another tool's, not poisoned) that reads as a request and
   * names this call, when the call is the first of its tool in the session and changes something: a request
   * without an identifier to trace, acted on. `null` otherwise.
   */
  enacted_request: (EnactedRequest & { from_call: number; from_tool: string }) | null;
  /** This call's own result. */
  result: { poisoned: boolean; score: number; sensitive: SensitiveRead | null };
  /**
   * The routine request behind a value from the result of call `from_call` (of `from_tool`): that tool's results
   * read as requests in the agent type's baseline, this call's tool routinely followed them there, and that result
   * carried no rule signal (a cue phrase, concealed text) of injection craft. `null` otherwise.
   */
  routine_request(from_call: number, from_tool: string): RoutineRequest | null;
  /**
   * Whether a (normalised) value is an e-mail address that named the author of an earlier result of the session:
   * a mail's `From:` or `Reply-To:`, a record's `sender` or `author` (found by DLP's address matches). A request in
   * a message to write back to its own author is correspondence, not someone else's instruction.
   */
  is_author(value: string): boolean;
}

/** Options of {@link FlowAnalysis}. */
export interface FlowAnalysisOptions {
  /** Shared with the poisoning detector, so the model runs once per result. */
  verdicts?: PoisoningVerdictSource;
  /** Scores sentences for instructions; the shipped poisoning model by default. */
  classifier?: PoisoningClassifier;
  /** Finds secrets and personal data in results; the built-in rules by default; `null` turns it off. */
  dlp?: DlpEngine | null;
  /** Segment score at or above which a sentence of a result reads as an instruction. Default 0.2. */
  instruction_threshold?: number;
  /** Bytes of the memo of result fingerprints (`DataFlowTrackerOptions.fingerprint_memo_bytes`). Default 32 MiB. */
  fingerprint_memo_bytes?: number;
  /**
   * What the agent types' baselines say about requests in results ({@link RequestSources}); share it with the
   * poisoning detector so both read the same learning. A fresh one by default. Learned by {@link FlowAnalysis.learn}.
   */
  request_sources?: RequestSources;
  /**
   * Bytes of the memo of DLP scans of results, keyed by text (texts counted at 2 bytes per character; usually
   * the same strings the fingerprint memo holds). Default 32 MiB; 0 turns it off.
   */
  scan_memo_bytes?: number;
}

const MAX_RESULT_CHARS = 256 * 1024;
const DEFAULT_INSTRUCTION_THRESHOLD = 0.2;
const MAX_DLP_CHARS = 65_536;
const MAX_TOOLS = 128;
const MAX_DESTINATIONS = 256;
const MAX_POISONED = 8;
const MAX_READS = 16;
const MAX_SECRET_HASHES = 64;
/** Results of routine request sources a session remembers (call indexes, the newest). */
const MAX_ROUTINE_RESULTS = 32;
const MAX_BASELINE_TOOLS = 512;
const MAX_BASELINE_AGENTS = 256;
const MAX_CAPABILITY_SHAPES = 1024;
const PERSONAL_TYPES: ReadonlySet<string> = new Set(["credit_card", "us_ssn"]);
/** Paths and resources that hold credentials, in any deployment. */
const CREDENTIAL_PATH =
  /(?:^|[/\\])\.env(?:\.[\w-]+)?$|(?:^|[/\\])\.(?:aws|ssh|gnupg|docker|kube)(?:[/\\]|$)|id_(?:rsa|dsa|ecdsa|ed25519)\b|\.(?:pem|key|p12|pfx|keystore|jks|kdbx)$|(?:^|[/\\_.-])(?:credentials?|secrets?|passwords?|tokens?)(?:[/\\_.-]|$)|(?:^|[/\\])\.(?:npmrc|pypirc|netrc|pgpass|git-credentials)$|(?:^|[/\\])(?:shadow|passwd)$/i;
const PATH_LIKE = /[/\\]|\.\w{1,6}$/;
/** Most author values a session keeps, and a result text gives. */
const MAX_AUTHORS = 64;
const MAX_AUTHORS_PER_TEXT = 8;

/** What DLP found in one result text, kept per distinct text. */
interface ResultScan {
  /** Server and tool the scan was made for: their allow-lists shape it. */
  context: string;
  secret_types: Set<string>;
  personal_types: Set<string>;
  /** Distinct hashes of the secrets' normalised values, in order found (at most 64). */
  secret_hashes: number[];
  /** Distinct hashes of the e-mail addresses that name the text's author (`From:`, `sender`), at most 8. */
  author_hashes: number[];
}

/** The capabilities of one tool called with one list of argument names. */
interface CapabilityShape {
  names: readonly string[] | null;
  capabilities: ToolCapabilities;
}

interface SessionFacts {
  tools: Set<string>;
  destinations: Set<number>;
  /** Hashes of the values that named the authors of the session's results. */
  authors: Set<number>;
  poisoned: PoisonedResult[];
  reads: SensitiveRead[];
  secrets: Set<number>;
  /** The session's latest result (its head, {@link requestSearchText}), kept for the next call to look for a request in. */
  last_result: { call_index: number; tool: string; text: string; poisoned: boolean } | null;
  /** Call indexes of results from the agent type's routine request sources that carried no rule signal. */
  routine_results: number[];
}

/**
 * The shared work of the flow detectors: for each `tools/call`, traces its arguments to earlier results
 * ({@link DataFlowTracker}), reads what the call can do ({@link toolCapabilities}), and classifies its result
 * (poisoned? secrets or personal data?), once, whichever detector asks first. Per session it keeps the
 * tracker's bounded tables and a few bounded lists (tools, destination hashes, poisoned results, sensitive
 * reads), about 26 KB at most, and the first 16,384 characters of its latest result (32 KB at most), all dropped
 * at `endSession`.
 */
export class FlowAnalysis {
  readonly tracker: DataFlowTracker;
  private readonly verdicts: PoisoningVerdictSource;
  private readonly dlp: DlpEngine | null;
  /** Whether the DLP engine finds the same in a text whatever the server and tool (no allow-lists). */
  private readonly scanContextFree: boolean = false;
  private readonly sessions = new Map<string, SessionFacts>();
  private readonly baselineTools = new Map<string, Set<string>>();
  private readonly scans: TextMemo<ResultScan>;
  /** Per tool, the capabilities of each list of argument names seen (frozen: every analysis shares them). */
  private readonly capabilities = new Map<string, CapabilityShape[]>();
  private capabilityShapes = 0;
  private lastExchange: CapturedExchange | null = null;
  private lastAnalysis: CallAnalysis | null = null;
  private lastLearned: CapturedExchange | null = null;
  private readonly scorer: InstructionScorer;
  private readonly instructionThreshold: number;
  /** Which tools' results this agent type acts on as requests routinely (learned with the tool sets). */
  readonly requestSources: RequestSources;

  constructor(options: FlowAnalysisOptions = {}) {
    const classifier =
      options.classifier ??
      (options.verdicts instanceof RecentPoisoningVerdicts ? options.verdicts.classifier : new PoisoningClassifier());
    this.verdicts = options.verdicts ?? new RecentPoisoningVerdicts(classifier);
    if (options.dlp === undefined) {
      const settings = defaultDlpSettings();
      this.dlp = new DlpEngine(settings);
      // Server and tool shape a scan only through the allow-lists: without any, one scan serves every context.
      this.scanContextFree = settings.allow.length === 0;
    } else this.dlp = options.dlp;
    this.scans = new TextMemo(options.scan_memo_bytes ?? 32 * 1024 * 1024);
    this.requestSources = options.request_sources ?? new RequestSources();
    const scorer = instructionScorer(classifier);
    this.scorer = scorer;
    this.instructionThreshold = options.instruction_threshold ?? DEFAULT_INSTRUCTION_THRESHOLD;
    this.tracker = new DataFlowTracker({
      scorer,
      instruction_threshold: this.instructionThreshold,
      ...(options.fingerprint_memo_bytes === undefined
        ? {}
        : { fingerprint_memo_bytes: options.fingerprint_memo_bytes }),
    });
  }

  /**
   * Learns which tools each agent type uses (for evidence: "a tool this agent type never used"), which tools'
   * results read as requests, and which tools follow those ({@link RequestSources}).
   */
  learn(exchange: CapturedExchange): void {
    if (exchange === this.lastLearned) return;
    this.lastLearned = exchange;
    if (exchange.method !== "tools/call" || typeof exchange.tool !== "string") return;
    const agent = exchange.agent ?? "";
    const tool = exchange.tool;
    let tools = this.baselineTools.get(agent);
    if (tools === undefined && this.baselineTools.size < MAX_BASELINE_AGENTS) {
      tools = new Set();
      this.baselineTools.set(agent, tools);
    }
    if (tools !== undefined && tools.size < MAX_BASELINE_TOOLS) tools.add(tool);
    this.requestSources.learnCall(agent, exchange.session, tool);
    const text = exchange.error === null && typeof exchange.result === "string" ? exchange.result : "";
    if (text.length > 0) {
      let verdict: "clean" | "model" | "rules" | null = null;
      if (this.requestSources.wantsResult(agent, tool)) {
        const found = this.poisoning(exchange, text);
        verdict = !found.poisoned ? "clean" : found.rules ? "rules" : "model";
      }
      this.requestSources.learnResult(agent, exchange.session, tool, verdict);
    }
  }

  /** The learned tool sets and request sources, as plain JSON. */
  saveBaseline(): {
    version: 2;
    tools_by_agent: Record<string, string[]>;
    request_sources: ReturnType<RequestSources["save"]>;
  } {
    const tools_by_agent: Record<string, string[]> = {};
    for (const [agent, tools] of this.baselineTools) tools_by_agent[agent] = [...tools].sort();
    return { version: 2, tools_by_agent, request_sources: this.requestSources.save() };
  }

  /** Restores {@link saveBaseline}'s output (version 1, before request sources were learned, too); returns why it cannot, or `null`. */
  loadBaseline(state: unknown): string | null {
    const parsed = parseFlowBaseline(state);
    if (typeof parsed === "string") return parsed;
    this.requestSources.restore(parsed.request_sources);
    this.baselineTools.clear();
    for (const [agent, tools] of parsed.tools_by_agent) this.baselineTools.set(agent, tools);
    return null;
  }

  /** The analysis of a `tools/call` exchange (computed on the first request, then reused); `null` for anything else. */
  analyse(exchange: CapturedExchange, position: ExchangePosition): CallAnalysis | null {
    if (exchange === this.lastExchange) return this.lastAnalysis;
    this.lastExchange = exchange;
    this.lastAnalysis = null;
    if (position.call_index === null || typeof exchange.tool !== "string") return null;
    this.lastAnalysis = this.compute(exchange, exchange.tool, position.call_index);
    return this.lastAnalysis;
  }

  /**
   * The earlier result of the session a top-level argument's value was read from (an exact flow that chose it, not
   * only a URL's query), for detectors that weigh a value by where it came from; `null` when none held it.
   */
  argumentSource(
    exchange: CapturedExchange,
    position: ExchangePosition,
    argument: string,
  ): { from_call: number; from_tool: string } | null {
    const call = this.analyse(exchange, position);
    const flow = call?.trace.flows.find(
      (item) => item.kind === "exact" && item.arguments.includes(argument) && !item.query_arguments.includes(argument),
    );
    return flow === undefined ? null : { from_call: flow.from_call, from_tool: flow.from_tool };
  }

  endSession(session: string): void {
    this.sessions.delete(session);
    this.tracker.endSession(session);
    if (this.lastAnalysis?.session === session) {
      this.lastExchange = null;
      this.lastAnalysis = null;
    }
  }

  /** Bytes the memos of result texts hold now, shared by all sessions (bounded by their two budgets). */
  get memoBytes(): number {
    return this.tracker.memoBytes + this.scans.bytes;
  }

  /** Sessions with state (for tests of bounded memory). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  private compute(exchange: CapturedExchange, tool: string, callIndex: number): CallAnalysis {
    const session = exchange.session;
    let facts = this.sessions.get(session);
    if (facts === undefined) {
      facts = {
        tools: new Set(),
        destinations: new Set(),
        authors: new Set(),
        poisoned: [],
        reads: [],
        secrets: new Set(),
        last_result: null,
        routine_results: [],
      };
      this.sessions.set(session, facts);
    }
    const args = exchange.arguments ?? null;
    const capabilities = this.capabilitiesOf(tool, args);
    const trace = this.tracker.traceArguments(session, callIndex, tool, args);
    const newTool = !facts.tools.has(tool);
    if (newTool && facts.tools.size < MAX_TOOLS) facts.tools.add(tool);
    const learned = this.baselineTools.get(exchange.agent ?? "");
    const newDestinations: string[] = [];
    if (args !== null) {
      for (const key of capabilities.destination_arguments) {
        collectStrings(args[key], (text) => {
          const value = normalizeValue(text);
          if (value.length < 3) return;
          const hash = hashValue(value);
          if (facts.destinations.has(hash)) return;
          if (facts.destinations.size < MAX_DESTINATIONS) facts.destinations.add(hash);
          if (newDestinations.length < 8) newDestinations.push(clipValue(value));
        });
      }
    }
    const secretsOut = capabilities.outbound || capabilities.payment ? this.secretsOut(exchange, args, facts) : [];
    const agent = exchange.agent ?? "";
    const requestSources = this.requestSources;
    const analysis: CallAnalysis = {
      session,
      call_index: callIndex,
      tool,
      capabilities,
      trace,
      new_tool: newTool,
      tool_in_baseline: learned === undefined ? null : learned.has(tool),
      new_destinations: newDestinations,
      poisoned_before: [...facts.poisoned],
      sensitive_reads: [...facts.reads],
      secrets_out: secretsOut,
      enacted_request: newTool && isSensitive(capabilities) ? this.enactedRequest(facts, callIndex, tool, args) : null,
      result: { poisoned: false, score: 0, sensitive: null },
      is_author: (value) => facts.authors.has(hashValue(normalizeValue(value))),
      routine_request: (fromCall, fromTool) =>
        facts.routine_results.includes(fromCall) ? requestSources.routineRequest(agent, fromTool, tool) : null,
    };
    const credentialPath = credentialPathOf(args);
    const text = exchange.error === null && typeof exchange.result === "string" ? exchange.result : "";
    if (text.length > 0) {
      const verdict = this.poisoning(exchange, text);
      analysis.result.poisoned = verdict.poisoned;
      analysis.result.score = verdict.score;
      if (!verdict.rules && requestSources.routineSource(agent, tool) !== null) {
        facts.routine_results.push(callIndex);
        if (facts.routine_results.length > MAX_ROUTINE_RESULTS) facts.routine_results.shift();
      }
      this.tracker.observeResult(session, callIndex, tool, text, verdict.poisoned);
      facts.last_result = { call_index: callIndex, tool, text: requestSearchText(text), poisoned: verdict.poisoned };
      if (verdict.poisoned) {
        facts.poisoned.push({ call_index: callIndex, tool, score: verdict.score });
        if (facts.poisoned.length > MAX_POISONED) facts.poisoned.shift();
      }
      analysis.result.sensitive = this.sensitiveRead(exchange, tool, callIndex, text, credentialPath, facts);
    } else if (credentialPath !== null && exchange.error === null) {
      analysis.result.sensitive = { call_index: callIndex, tool, kind: "credential_path", detail: [credentialPath] };
    }
    if (analysis.result.sensitive !== null) {
      facts.reads.push(analysis.result.sensitive);
      if (facts.reads.length > MAX_READS) facts.reads.shift();
    }
    return analysis;
  }

  /** The request in the result of the call just before that this call enacts ({@link findEnactedRequest}). */
  private enactedRequest(
    facts: SessionFacts,
    callIndex: number,
    tool: string,
    args: Record<string, unknown> | null,
  ): CallAnalysis["enacted_request"] {
    const last = facts.last_result;
    // A poisoned result is the behaviour-change rules' own case; a tool's own result asks nothing of a new tool.
    if (last === null || last.call_index !== callIndex - 1 || last.poisoned || last.tool === tool) return null;
    const found = findEnactedRequest(last.text, tool, args, this.scorer, this.instructionThreshold);
    return found === null ? null : { ...found, from_call: last.call_index, from_tool: last.tool };
  }

  /** The verdict on a result; `rules` when it rests on more than the model (or on an inline decision). */
  private poisoning(exchange: CapturedExchange, text: string): { poisoned: boolean; score: number; rules: boolean } {
    const decision = exchange.decisions?.find(
      (item) => item.stage === "poisoning" && item.rule !== "poisoned_description",
    );
    // What the inline guard decided is what live traffic saw: replay must agree with it.
    if (decision !== undefined) {
      return { poisoned: decision.action !== "allow", score: 0.9, rules: decidedByRules(decision.rule) };
    }
    const clipped = text.length > MAX_RESULT_CHARS ? text.slice(0, MAX_RESULT_CHARS) : text;
    const verdict = this.verdicts.inspect(clipped, "result");
    // Rule evidence always flags a result: an unflagged one has none to look for.
    return { poisoned: verdict.poisoned, score: verdict.score, rules: verdict.poisoned && flaggedByRules(verdict) };
  }

  private sensitiveRead(
    exchange: CapturedExchange,
    tool: string,
    callIndex: number,
    text: string,
    credentialPath: string | null,
    facts: SessionFacts,
  ): SensitiveRead | null {
    const scan = this.dlpScan(exchange.server, tool, text);
    const secretTypes = scan.secret_types;
    const personalTypes = scan.personal_types;
    for (const hash of scan.secret_hashes) {
      if (facts.secrets.size >= MAX_SECRET_HASHES) break;
      facts.secrets.add(hash);
    }
    for (const hash of scan.author_hashes) {
      if (facts.authors.size >= MAX_AUTHORS) break;
      facts.authors.add(hash);
    }
    if (secretTypes.size > 0) return { call_index: callIndex, tool, kind: "secret", detail: [...secretTypes] };
    if (credentialPath !== null)
      return { call_index: callIndex, tool, kind: "credential_path", detail: [credentialPath] };
    const personal = [...personalTypes];
    // A card or social security number, or a contact record (address and phone together), is worth guarding;
    // an e-mail address alone is everyday data.
    if (
      personal.some((type) => PERSONAL_TYPES.has(type)) ||
      (personalTypes.has("email") && personalTypes.has("phone_number"))
    ) {
      return { call_index: callIndex, tool, kind: "personal", detail: personal };
    }
    return null;
  }

  /** {@link toolCapabilities}, which reads only the tool's and the arguments' names: worked out once per shape. */
  private capabilitiesOf(tool: string, args: Record<string, unknown> | null): ToolCapabilities {
    const names = args === null ? null : Object.keys(args);
    let shapes = this.capabilities.get(tool);
    if (shapes !== undefined) {
      for (const shape of shapes) if (sameNames(shape.names, names)) return shape.capabilities;
    }
    const capabilities = toolCapabilities(tool, args);
    Object.freeze(capabilities.destination_arguments);
    Object.freeze(capabilities);
    // Tool and argument names come from peers: a flood of new shapes starts the memo over.
    if (this.capabilityShapes >= MAX_CAPABILITY_SHAPES) {
      this.capabilities.clear();
      this.capabilityShapes = 0;
      shapes = undefined;
    }
    if (shapes === undefined) {
      shapes = [];
      this.capabilities.set(tool, shapes);
    }
    shapes.push({ names, capabilities });
    this.capabilityShapes++;
    return capabilities;
  }

  /** What DLP finds in a result, once per distinct text (and server and tool, whose allow-lists apply). */
  private dlpScan(server: string, tool: string, text: string): ResultScan {
    const context = this.scanContextFree ? "" : `${server}\u0000${tool}`;
    const known = this.scans.get(text);
    if (known !== undefined && known.context === context) return known;
    const scan: ResultScan = {
      context,
      secret_types: new Set(),
      personal_types: new Set(),
      secret_hashes: [],
      author_hashes: [],
    };
    if (this.dlp !== null) {
      const scanned = text.length > MAX_DLP_CHARS ? text.slice(0, MAX_DLP_CHARS) : text;
      for (const match of this.dlp.scanText(scanned, { server, tool, direction: "result" })) {
        if (match.category === "secret") {
          scan.secret_types.add(match.type);
          const hash = hashValue(normalizeValue(scanned.slice(match.start, match.end)));
          if (scan.secret_hashes.length < MAX_SECRET_HASHES && !scan.secret_hashes.includes(hash)) {
            scan.secret_hashes.push(hash);
          }
        } else {
          scan.personal_types.add(match.type);
          if (
            match.type === "email" &&
            scan.author_hashes.length < MAX_AUTHORS_PER_TEXT &&
            namesAuthor(scanned, match.start)
          ) {
            const hash = hashValue(normalizeValue(scanned.slice(match.start, match.end)));
            if (!scan.author_hashes.includes(hash)) scan.author_hashes.push(hash);
          }
        }
      }
    }
    this.scans.set(
      text,
      scan,
      context.length * 2 +
        (scan.secret_types.size + scan.personal_types.size) * 48 +
        scan.author_hashes.length * 8 +
        256,
    );
    return scan;
  }

  /** DLP secret types in the call's argument strings whose values an earlier result of the session held. */
  private secretsOut(exchange: CapturedExchange, args: Record<string, unknown> | null, facts: SessionFacts): string[] {
    if (this.dlp === null || args === null || facts.secrets.size === 0) return [];
    const types = new Set<string>();
    const dlp = this.dlp;
    collectStrings(args, (text) => {
      for (const match of dlp.scanText(text.slice(0, MAX_DLP_CHARS), {
        server: exchange.server,
        tool: exchange.tool ?? null,
        direction: "arguments",
      })) {
        if (match.category !== "secret") continue;
        if (facts.secrets.has(hashValue(normalizeValue(text.slice(match.start, match.end))))) types.add(match.type);
      }
    });
    return [...types];
  }
}

/**
 * The classifier as the data-flow tracker's instruction scorer. The classifier has usually just read the same
 * result (segments, document kind, the scores of the segments that could be requests): asking it reuses that
 * reading instead of making a second one.
 */
export function instructionScorer(classifier: PoisoningClassifier): InstructionScorer {
  return {
    segments: (text) => classifier.segmentsOf(text),
    scoreSpan: (text, start, end, index) => classifier.scoreSegment(text, start, end, index ?? -1),
  };
}

/**
 * Readable lines about a saved flow baseline (`toolwatch baseline show`): the tools per agent type, and the
 * tools whose results the agent type reads as requests routinely, with what it calls after them. `null` when the
 * state does not load.
 */
export function describeFlowBaseline(state: unknown): string[] | null {
  const parsed = parseFlowBaseline(state);
  if (typeof parsed === "string") return null;
  const requestSources = new RequestSources();
  requestSources.restore(parsed.request_sources);
  const saved = requestSources.save();
  const lines: string[] = [];
  for (const [agent, tools] of parsed.tools_by_agent) {
    lines.push(`agent type ${agent}: ${tools.size} tools`);
    const requests = saved[agent];
    for (const [tool, stats] of Object.entries(requests?.sources ?? {})) {
      const routine = requestSources.routineSource(agent, tool) !== null;
      const following = Object.entries(requests?.follows[tool] ?? {})
        .filter(([follower]) => requestSources.routineRequest(agent, tool, follower) !== null)
        .map(([follower, sessions]) => `${follower} (${sessions})`);
      lines.push(
        `  ${tool}: ${stats.flagged} of ${stats.results} results read as requests${stats.rule_flagged > 0 ? `, ${stats.rule_flagged} carried injection cues` : ""}${routine ? `, routine; acted on with ${following.join(", ") || "nothing yet"}` : ""}`,
      );
    }
  }
  return lines;
}

// Read as a Map: the keys are agent types, named by traffic (see jsonMap).
const toolsByAgentSchema = jsonMap(z.array(z.string()));
/**
 * The saved form of the flow analysis, checked on load: version 2 ({@link FlowAnalysis.saveBaseline}'s output), and
 * version 1, written before request sources were learned (any it carries are ignored).
 */
export const flowBaselineSchema = z.discriminatedUnion("version", [
  z.object({ version: z.literal(1), tools_by_agent: toolsByAgentSchema }),
  z.object({ version: z.literal(2), tools_by_agent: toolsByAgentSchema, request_sources: requestSourcesSchema }),
]);

/** A saved flow baseline checked and read: its tool sets (capped as learning caps them) and request sources. */
function parseFlowBaseline(
  state: unknown,
): { tools_by_agent: Map<string, Set<string>>; request_sources: SavedRequestSources } | string {
  const parsed = flowBaselineSchema.safeParse(state);
  if (!parsed.success) return `flow baseline: ${describeStateError(parsed.error)}`;
  const toolsByAgent = new Map<string, Set<string>>();
  for (const [agent, tools] of parsed.data.tools_by_agent) {
    toolsByAgent.set(agent, new Set(tools.slice(0, MAX_BASELINE_TOOLS)));
  }
  return {
    tools_by_agent: toolsByAgent,
    request_sources: parsed.data.version === 1 ? new Map() : parsed.data.request_sources,
  };
}

/** Whether two lists of argument names are the same, in the same order (`null`: no arguments object). */
function sameNames(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}

/** The first argument value that names a credential-looking path or resource, or `null`. */
function credentialPathOf(args: Record<string, unknown> | null): string | null {
  if (args === null) return null;
  let found: string | null = null;
  collectStrings(args, (text) => {
    if (found !== null || text.length > 512 || !PATH_LIKE.test(text)) return;
    if (CREDENTIAL_PATH.test(text.trim())) found = clipValue(text.trim());
  });
  return found;
}

/** Calls `visit` for each string in a JSON value, to a bounded depth and count. */
function collectStrings(value: unknown, visit: (text: string) => void, depth = 0, budget = { left: 64 }): void {
  if (budget.left <= 0) return;
  if (typeof value === "string") {
    budget.left--;
    visit(value);
  } else if (depth < 6 && value !== null && typeof value === "object") {
    const items = Array.isArray(value) ? value : Object.values(value as Record<string, unknown>);
    for (const item of items) collectStrings(item, visit, depth + 1, budget);
  }
}
