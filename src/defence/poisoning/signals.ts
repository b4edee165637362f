/** The kinds of evidence the poisoning classifier reports. */
export type PoisoningSignalKind =
  | "instruction"
  | "cue_phrase"
  | "hidden_characters"
  | "exfiltration_link"
  | "concealment"
  | "instruction_tag";

/** One piece of evidence that a text carries instructions aimed at the model, with its span in the text. */
export interface PoisoningSignal {
  kind: PoisoningSignalKind;
  /** What was seen, short and safe to print (hidden characters are named, never echoed). */
  detail: string;
  /** UTF-16 offset of the span's first character in the inspected text. */
  start: number;
  /** UTF-16 offset just past the span. */
  end: number;
  /** The learned score of the span, for `instruction` signals. */
  score?: number;
}

/**
 * Whether a verdict rests on a rule (a cue phrase such as "ignore previous instructions", an instruction tag,
 * concealed text, an exfiltration link) rather than on the model alone. Rules name injection craft; the model
 * names requests, which some data (tickets, e-mails) holds by nature.
 */
export function flaggedByRules(verdict: { signals: readonly { kind: string; score?: number }[] }): boolean {
  // Hidden characters that conceal nothing are reported at 0.3 and are not evidence; every rule scores 0.8 or more.
  return verdict.signals.some((signal) => signal.kind !== "instruction" && (signal.score ?? 0) >= 0.5);
}

/**
 * Rules of the inline guard's poisoning decisions on results: instructions shown by injection craft (a cue phrase,
 * hidden text, an instruction tag, an exfiltration link); a request read by the model alone; and such a request from
 * a tool whose results are requests by nature for the agent type (forwarded, never withheld). Captures from before
 * the distinction say `tool_poisoning` for all three.
 */
export const TOOL_POISONING = "tool_poisoning";
export const INSTRUCTION_REQUEST = "instruction_request";
export const ROUTINE_REQUEST = "routine_request";

/** Whether an inline poisoning decision rests on a rule, as {@link flaggedByRules} says of a verdict. */
export function decidedByRules(rule: string | undefined): boolean {
  return rule !== INSTRUCTION_REQUEST && rule !== ROUTINE_REQUEST;
}

/**
 * What a poisoning decision or finding on a routine request source adds to its explanation, so that whoever reads
 * it knows why it was forwarded or kept low: the guard's decision and the detector's finding say it alike.
 */
export function routineSourceExplanation(stats: { results: number; flagged: number }, tool: string): string {
  return `; routine for this agent type: its baseline read ${stats.flagged} of ${stats.results} results of ${tool} as requests`;
}
