import type { Detector, ExchangePosition, FindingSink } from "../../core/detector.js";
import type { CapturedExchange } from "../../core/exchange.js";
import type { Severity } from "../../core/finding.js";
import type { FlowSourceMatch } from "./data-flow-tracker.js";
import { FlowAnalysis, type SensitiveRead } from "./flow-analysis.js";
import {
  carriesOut,
  choosesDestination,
  describeSources,
  flowEvidence,
  flowFinding,
  quoteValues,
} from "./flow-finding.js";
import { describeCapabilities } from "./tool-capabilities.js";

const DETECTOR_NAME = "read_then_exfiltrate";

/**
 * Raises `read_then_exfiltrate` when an outbound call (mail, message, post, upload, share, web request,
 * payment) carries content of an earlier sensitive read. A read is sensitive when DLP finds secrets in its
 * result, when it read a credential-looking path (`.env`, `id_rsa`, `credentials.json`), or when it holds
 * personal data worth guarding (card or social security numbers, a contact record).
 *
 * - high (0.9): a secret an earlier result held leaves in the arguments, or content of a credential read does;
 * - high (0.85): personal data leaves in a session where a result carried instructions, or to a destination taken
 *   from a sentence of a result that reads as a request (an injection asked for it);
 * - medium (0.5): personal data leaves to a destination that no earlier result or argument of the session named;
 * - low (0.3): personal data leaves to a destination the session already used or took from the data read (the
 *   customer the record is about).
 *
 * Only flows into content arguments count: a recipient looked up in a contact list is where data goes, not
 * what leaves.
 */
export class ReadThenExfiltrateDetector implements Detector {
  readonly name = DETECTOR_NAME;
  private readonly analysis: FlowAnalysis;

  constructor(analysis: FlowAnalysis = new FlowAnalysis()) {
    this.analysis = analysis;
  }

  learn(exchange: CapturedExchange): void {
    this.analysis.learn(exchange);
  }

  observe(exchange: CapturedExchange, position: ExchangePosition, emit: FindingSink): void {
    const call = this.analysis.analyse(exchange, position);
    if (call === null || !(call.capabilities.outbound || call.capabilities.payment)) return;
    const kinds = describeCapabilities(call.capabilities);
    if (call.secrets_out.length > 0) {
      emit(
        flowFinding(
          exchange,
          call.call_index,
          DETECTOR_NAME,
          "read_then_exfiltrate",
          "high",
          0.9,
          `call ${call.call_index}: ${call.tool} (${kinds.join(", ")}) sends a secret (${call.secrets_out.join(", ")}) that an earlier tool result of this session held; block the call and rotate the secret`,
          {
            call_index: call.call_index,
            tool: call.tool,
            secret_types: call.secrets_out,
            reads: call.sensitive_reads.filter((read) => read.kind === "secret"),
            flows: flowEvidence(call.trace.flows),
          },
        ),
      );
      return;
    }
    if (call.sensitive_reads.length === 0) return;
    const destinations = new Set(call.capabilities.destination_arguments);
    const reads = new Map<number, SensitiveRead>(call.sensitive_reads.map((read) => [read.call_index, read]));
    const leaking: FlowSourceMatch[] = call.trace.flows.filter(
      (flow) => reads.has(flow.from_call) && carriesOut(flow, destinations),
    );
    if (leaking.length === 0) return;
    const sources = leaking.map((flow) => reads.get(flow.from_call)!);
    const credential = sources.some((read) => read.kind !== "personal");
    const toDestination = call.trace.flows.filter((flow) => choosesDestination(flow, destinations));
    const injected =
      call.poisoned_before.length > 0 ||
      call.trace.flows.some((flow) => flow.poisoned) ||
      toDestination.some((flow) => flow.instruction && flow.kind === "exact");
    // A destination the session already used, or one taken from the data read (the customer the record is
    // about), is where this data belongs; one that appears from nowhere is not known to be.
    const knownDestination = call.new_destinations.length === 0 || toDestination.length > 0;
    let severity: Severity;
    let score: number;
    let why: string;
    if (credential) {
      severity = "high";
      score = 0.9;
      why = "block the call and rotate what the read exposed";
    } else if (injected) {
      severity = "high";
      score = 0.85;
      why =
        "a result earlier in the session carried instructions aimed at the model, or the destination came from a request in the data; hold the call";
    } else if (!knownDestination) {
      severity = "medium";
      score = 0.5;
      why = `the destination (${call.new_destinations.slice(0, 2).join(", ")}) appears nowhere earlier in the session; check that the user asked for it`;
    } else {
      severity = "low";
      score = 0.3;
      why = "the destination was already part of the session or of the data read";
    }
    const what = [...new Set(sources.map((read) => `${read.kind.replace("_", " ")} (${read.detail.join(", ")})`))].join(
      "; ",
    );
    emit(
      flowFinding(
        exchange,
        call.call_index,
        DETECTOR_NAME,
        "read_then_exfiltrate",
        severity,
        score,
        `call ${call.call_index}: ${call.tool} (${kinds.join(", ")}) sends content of the sensitive read at ${describeSources(leaking)}, ${what}, including ${quoteValues(leaking)}; ${why}`,
        {
          call_index: call.call_index,
          tool: call.tool,
          capabilities: kinds,
          reads: sources,
          flows: flowEvidence(leaking),
          flow_bytes: call.trace.bytes,
          new_destinations: call.new_destinations,
          poisoned_results: call.poisoned_before,
        },
      ),
    );
  }

  endSession(session: string): void {
    this.analysis.endSession(session);
  }

  async shutdown(): Promise<void> {}
}
