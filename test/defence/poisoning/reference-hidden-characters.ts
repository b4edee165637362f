// `findHiddenCharacters` as it was before its quick rejection looked for ESC on its own: kept verbatim as the
// reference the differential test compares the current implementation with.
import type { PoisoningSignal } from "../../../src/defence/poisoning/signals.js";

export type { PoisoningSignal, PoisoningSignalKind } from "../../../src/defence/poisoning/signals.js";

/** Classes of characters a reader does not see but a model reads (or that reorder what a reader sees). */
type HiddenClass = "unicode_tag" | "zero_width" | "bidi_control" | "ansi_escape";

const CLASS_LABEL: Record<HiddenClass, string> = {
  unicode_tag: "Unicode tag characters",
  zero_width: "zero-width characters",
  bidi_control: "bidirectional controls",
  ansi_escape: "ANSI escape sequences",
};

/**
 * One pass over the string for every class at once: tags live in the supplementary plane (surrogate pair
 * U+DB40 U+DC00–U+DC7F), the rest are single UTF-16 units. ANSI escapes are ESC followed by `[` (CSI) or
 * `]` (OSC, which can carry hyperlinks).
 */
function classify(text: string, index: number): { kind: HiddenClass; length: number } | null {
  const unit = text.charCodeAt(index);
  if (unit === 0xdb40) {
    const low = text.charCodeAt(index + 1);
    if (low >= 0xdc00 && low <= 0xdc7f) return { kind: "unicode_tag", length: 2 };
    return null;
  }
  if ((unit >= 0x200b && unit <= 0x200f) || unit === 0x2060 || unit === 0xfeff) {
    // Joiners (U+200C, U+200D) are part of emoji sequences and of Indic and Persian spelling: only count
    // one that sits after ASCII, where no script needs it.
    if ((unit === 0x200c || unit === 0x200d) && index > 0 && text.charCodeAt(index - 1) > 0x7f) return null;
    return { kind: "zero_width", length: 1 };
  }
  if ((unit >= 0x202a && unit <= 0x202e) || (unit >= 0x2066 && unit <= 0x2069)) {
    return { kind: "bidi_control", length: 1 };
  }
  if (unit === 0x1b) {
    const next = text.charCodeAt(index + 1);
    if (next === 0x5b || next === 0x5d) return { kind: "ansi_escape", length: 2 };
  }
  return null;
}

/** Decodes the ASCII that Unicode tag characters smuggle (U+E0020–U+E007E mirror printable ASCII). */
function decodeTags(text: string, start: number, end: number): string {
  let decoded = "";
  for (let index = start; index + 1 < end; index += 2) {
    const value = text.charCodeAt(index + 1) - 0xdc00;
    if (value >= 0x20 && value <= 0x7e) decoded += String.fromCharCode(value);
  }
  return decoded;
}

/** Quick rejection: none of the hidden characters can occur in a string that has no unit at or above these. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is one of the characters looked for
const MAYBE_HIDDEN = /[\u001b\u200b-\u200f\u2060\u202a-\u202e\u2066-\u2069\ufeff\udb40]/;

/**
 * Finds characters that hide content from a human reader: Unicode tag characters (U+E0000–U+E007F),
 * zero-width characters (U+200B–U+200F, U+2060, U+FEFF) other than a byte-order mark at the very start,
 * bidirectional controls (U+202A–U+202E, U+2066–U+2069) and ANSI escape sequences (`ESC [`, `ESC ]`).
 *
 * Adjacent characters of one class make one signal, whose `detail` names the class and count; runs of
 * tag characters also show the ASCII they decode to (clipped), since that is usually a hidden instruction.
 */
export function findHiddenCharacters(text: string): PoisoningSignal[] {
  if (!MAYBE_HIDDEN.test(text)) return [];
  const signals: PoisoningSignal[] = [];
  let runKind: HiddenClass | null = null;
  let runStart = 0;
  let runEnd = 0;
  let runCount = 0;
  const flush = (): void => {
    if (runKind === null) return;
    let detail = `${runCount} ${CLASS_LABEL[runKind]}`;
    if (runKind === "unicode_tag") {
      const decoded = decodeTags(text, runStart, runEnd);
      if (decoded.length > 0) detail += ` spelling "${decoded.length > 80 ? `${decoded.slice(0, 80)}…` : decoded}"`;
    }
    signals.push({ kind: "hidden_characters", detail, start: runStart, end: runEnd });
    runKind = null;
  };
  for (let index = 0; index < text.length; ) {
    const found = classify(text, index);
    // A byte-order mark opening the text is an encoding artefact, not hidden content.
    if (found === null || (index === 0 && text.charCodeAt(0) === 0xfeff)) {
      if (found === null) flush();
      index += found?.length ?? 1;
      continue;
    }
    if (runKind !== found.kind || runEnd !== index) {
      flush();
      runKind = found.kind;
      runStart = index;
      runCount = 0;
    }
    runCount++;
    index += found.length;
    runEnd = index;
  }
  flush();
  return signals;
}
