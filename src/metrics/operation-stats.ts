import { DDSketch } from "./dd-sketch.js";
import type { ExchangeSignals } from "./exchange-signals.js";

/** The counters of {@link OperationStats} in the order window buckets store them. */
export const COUNT_FIELDS = [
  "requests",
  "calls",
  "errors",
  "tool_errors",
  "server_errors",
  "protocol_errors",
  "dlp_blocks",
  "dlp_redactions",
  "policy_denials",
  "auth_failures",
  "flow_bytes",
] as const;

/** Adds one exchange's counts to `counts` at `base`, in the order of {@link COUNT_FIELDS}. */
export function addCounts(counts: Float64Array, base: number, signals: ExchangeSignals, flowBytes: number): void {
  counts[base]!++;
  if (signals.is_call) counts[base + 1]!++;
  if (signals.is_error) {
    counts[base + 2]!++;
    if (signals.is_tool_error) counts[base + 3]!++;
    else counts[base + 4]!++;
  }
  if (signals.is_protocol_error) counts[base + 5]!++;
  counts[base + 6]! += signals.dlp_blocks;
  counts[base + 7]! += signals.dlp_redactions;
  counts[base + 8]! += signals.policy_denials;
  counts[base + 9]! += signals.auth_failures;
  counts[base + 10]! += flowBytes;
}

/**
 * What a set of exchanges added up to: counts from {@link ExchangeSignals}, cross-tool flow bytes and
 * a latency sketch. One instance per window bucket and one cumulative per series; they merge, so a
 * window, a server or the whole gateway is the merge of the parts.
 */
export class OperationStats {
  /** Exchanges of any kind. */
  requests = 0;
  /** `tools/call` exchanges. */
  calls = 0;
  errors = 0;
  tool_errors = 0;
  server_errors = 0;
  protocol_errors = 0;
  dlp_blocks = 0;
  dlp_redactions = 0;
  policy_denials = 0;
  auth_failures = 0;
  /** Bytes of earlier tool output found in these exchanges' arguments (see cross-tool-flow.ts). */
  flow_bytes = 0;
  /** Seconds from request to response. */
  readonly latency = new DDSketch();

  /** Counts one exchange; `latencyKey` is `latency.keyOf(signals.latency_seconds)`, computed once for every sketch it goes into. */
  add(signals: ExchangeSignals, latencyKey: number | null, flowBytes: number): void {
    this.requests++;
    if (signals.is_call) this.calls++;
    if (signals.is_error) {
      this.errors++;
      if (signals.is_tool_error) this.tool_errors++;
      else this.server_errors++;
    }
    if (signals.is_protocol_error) this.protocol_errors++;
    this.dlp_blocks += signals.dlp_blocks;
    this.dlp_redactions += signals.dlp_redactions;
    this.policy_denials += signals.policy_denials;
    this.auth_failures += signals.auth_failures;
    this.flow_bytes += flowBytes;
    if (signals.latency_seconds !== null) this.latency.addWithKey(signals.latency_seconds, latencyKey);
  }

  /** Adds counts laid out as {@link COUNT_FIELDS} at `base` of `counts` (a window bucket). */
  mergeCounts(counts: Float64Array, base: number): void {
    this.requests += counts[base]!;
    this.calls += counts[base + 1]!;
    this.errors += counts[base + 2]!;
    this.tool_errors += counts[base + 3]!;
    this.server_errors += counts[base + 4]!;
    this.protocol_errors += counts[base + 5]!;
    this.dlp_blocks += counts[base + 6]!;
    this.dlp_redactions += counts[base + 7]!;
    this.policy_denials += counts[base + 8]!;
    this.auth_failures += counts[base + 9]!;
    this.flow_bytes += counts[base + 10]!;
  }

  merge(other: OperationStats): void {
    this.requests += other.requests;
    this.calls += other.calls;
    this.errors += other.errors;
    this.tool_errors += other.tool_errors;
    this.server_errors += other.server_errors;
    this.protocol_errors += other.protocol_errors;
    this.dlp_blocks += other.dlp_blocks;
    this.dlp_redactions += other.dlp_redactions;
    this.policy_denials += other.policy_denials;
    this.auth_failures += other.auth_failures;
    this.flow_bytes += other.flow_bytes;
    this.latency.merge(other.latency);
  }

  clear(): void {
    this.requests = 0;
    this.calls = 0;
    this.errors = 0;
    this.tool_errors = 0;
    this.server_errors = 0;
    this.protocol_errors = 0;
    this.dlp_blocks = 0;
    this.dlp_redactions = 0;
    this.policy_denials = 0;
    this.auth_failures = 0;
    this.flow_bytes = 0;
    this.latency.clear();
  }
}
