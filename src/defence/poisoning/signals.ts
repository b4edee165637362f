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
