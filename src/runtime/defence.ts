import type { ToolwatchConfig } from "../config/config.js";
import { ToolwatchError } from "../core/errors.js";
import type { InlineGuard } from "../core/guard.js";
import { loadDlpRulesFile } from "../defence/dlp/dlp-config.js";
import { DlpEngine } from "../defence/dlp/dlp-scanner.js";
import {
  type FlowCheck,
  InlineDefence,
  type InlineDefenceOptions,
  type RoutineRequestCheck,
} from "../defence/inline-defence.js";
import { PoisoningClassifier } from "../defence/poisoning/poisoning-classifier.js";
import { PolicyHolder } from "../defence/policy/policy-holder.js";
import { InMemoryPinStore, ToolPinning } from "../defence/tool-pinning.js";
import { DataFlowTracker } from "../detectors/flow/data-flow-tracker.js";
import { instructionScorer } from "../detectors/flow/flow-analysis.js";
import { authorAddresses, reachesSomeone } from "../detectors/flow/parties.js";
import { isHighRisk, toolCapabilities } from "../detectors/flow/tool-capabilities.js";
import { normalizeValue } from "../detectors/flow/value-tokens.js";
import { SqliteDefenceState } from "../store/defence-state-store.js";

/** Inline defence built from the configuration, and what must be closed with it. */
export interface Defence {
  guard: InlineGuard | null;
  /** Stops the policy watcher and closes the pin and quarantine store. Idempotent. */
  close(): void;
}

export interface DefenceOptions {
  /** The database for pins and quarantined content; without one they are kept in memory for this process. */
  database: string | null;
  /** Reports policy reloads and rejected policy files. */
  log: (line: string) => void;
  /** The poisoning classifier to use, shared with the analysis' detectors; one from `config.poisoning` when absent. */
  classifier?: PoisoningClassifier;
  /**
   * The detectors' learned request sources (give the same object to the analysis), so that a routine request of
   * the agent type is not withheld or held; without it every flagged result is judged alike.
   */
  requests?: RoutineRequestCheck;
}

/**
 * Builds the inline guard the stdio proxy and the gateway apply to every session: policy (when a file is
 * configured), DLP, tool-poisoning checks and tool pinning, each as the configuration says. Returns a `null`
 * guard when everything is off, so the proxy keeps its unguarded fast path.
 * A bad policy file at start is an error (`config_invalid` with file:line:column); later bad edits are logged
 * and the policy in force stays.
 */
export function createDefence(config: ToolwatchConfig, options: DefenceOptions): Defence {
  const parts: InlineDefenceOptions = {};
  const closers: (() => void)[] = [];
  if (config.policy.file !== undefined) {
    const file = config.policy.file;
    const holder = new PolicyHolder(file, {
      watch: config.policy.watch,
      onError: (message) => options.log(`policy not reloaded, the one in force stays: ${message}`),
      onReload: () => options.log(`policy reloaded from ${file}`),
    });
    parts.policy = holder;
    closers.push(() => holder.close());
  }
  if (config.dlp.enabled) parts.dlp = createDlpEngine(config);
  if (config.poisoning.enabled) {
    const classifier = options.classifier ?? createPoisoningClassifier(config);
    parts.poisoning = {
      classifier,
      result_action: config.poisoning.result_action,
      description_action: config.poisoning.description_action,
    };
    const action = config.poisoning.tainted_call_action;
    if (action !== "off") parts.flow = { tracker: inlineFlowTracker(classifier), action };
    if (options.requests !== undefined) parts.requests = options.requests;
  }
  const needsState = config.pinning.enabled || config.poisoning.result_action === "quarantine";
  if (needsState && options.database !== null) {
    const state = new SqliteDefenceState(options.database);
    closers.push(() => state.close());
    if (config.pinning.enabled) parts.pinning = new ToolPinning(state, { block_changed: config.pinning.block_changed });
    parts.quarantine = state;
  } else if (config.pinning.enabled) {
    parts.pinning = new ToolPinning(new InMemoryPinStore(), { block_changed: config.pinning.block_changed });
  }
  const empty = Object.keys(parts).length === 0;
  let closed = false;
  return {
    guard: empty ? null : new InlineDefence(parts),
    close() {
      if (closed) return;
      closed = true;
      for (const close of closers) close();
    },
  };
}

/**
 * The DLP engine for `config.dlp`, with its custom rules file loaded (a relative path is the working directory's:
 * `loadConfig` has made the file's own paths absolute); a bad rules file is a `config_invalid` error.
 */
export function createDlpEngine(config: ToolwatchConfig): DlpEngine {
  const settings = config.dlp;
  if (settings.rules_file === undefined) return new DlpEngine(settings);
  const loaded = loadDlpRulesFile(settings.rules_file);
  if (!loaded.ok) throw new ToolwatchError("config_invalid", loaded.error);
  return new DlpEngine(settings, { customRules: loaded.rules });
}

/** Most author addresses the inline flow check keeps per session, and takes from one result. */
const MAX_AUTHORS = 64;
const MAX_AUTHORS_PER_RESULT = 8;
/** How much of a result is searched for its authors: headers and `from` keys come first. */
const AUTHOR_SEARCH_CHARS = 16 * 1024;

/**
 * Data-flow tracking for the inline guard: the detectors' tracker, their reading of what a tool can do, and the
 * authors of the results it observed (only results that carried instructions are observed inline).
 */
function inlineFlowTracker(classifier: PoisoningClassifier): FlowCheck {
  // The classifier's reading of a result tells which sentences are the instructions, whose short values (a role,
  // an amount) are traced too, as the detectors trace them.
  const tracker = new DataFlowTracker({ scorer: instructionScorer(classifier) });
  const authors = new Map<string, Set<string>>();
  return {
    observeResult: (session, callIndex, tool, text, poisoned) => {
      tracker.observeResult(session, callIndex, tool, text, poisoned);
      const found = authorAddresses(text.slice(0, AUTHOR_SEARCH_CHARS), MAX_AUTHORS_PER_RESULT);
      if (found.length === 0) return;
      let known = authors.get(session);
      if (known === undefined) {
        known = new Set();
        authors.set(session, known);
      }
      // Normalised as the flow detectors' is_author normalises, so the guard and the detectors agree on who wrote.
      for (const address of found) if (known.size < MAX_AUTHORS) known.add(normalizeValue(address));
    },
    traceArguments: (session, callIndex, tool, args) => tracker.traceArguments(session, callIndex, tool, args),
    isHighRisk: (tool, args) => isHighRisk(toolCapabilities(tool, args)),
    namesOutsideParty: (session, values) => {
      const known = authors.get(session);
      return values.some((value) => reachesSomeone(value) && !known?.has(normalizeValue(value)));
    },
    endSession: (session) => {
      tracker.endSession(session);
      authors.delete(session);
    },
  };
}

/**
 * The poisoning classifier `config.poisoning` describes. A live process builds one and gives it to both inline
 * defence and the analysis, so each result is classified once (the second ask is a memo hit) and both use the
 * configured threshold.
 */
export function createPoisoningClassifier(config: ToolwatchConfig): PoisoningClassifier {
  return new PoisoningClassifier(
    config.poisoning.threshold === undefined ? {} : { threshold: config.poisoning.threshold },
  );
}
