// What a digit run looks like, as a few bits computed once per run. Logs and CSV exports hold a run of
// digits every twenty-odd characters (timestamps, ids, amounts, dates), and calling each numeric rule's
// precheck on each of them cost more than the checks themselves. Each numeric rule names the shapes of
// which a run must have at least one before its precheck is called: a necessary condition, in data. The
// first pass (`anchor-index.ts`) computes the bits while it walks the run and reports only runs some rule
// accepts; `digitRunShape` below is the same definition read from the text, which the tests hold it to.

/** The run holds three dots or more (an IPv4 address needs them). */
export const RUN_THREE_DOTS = 1;
/** A `:` sits just before the run or just after it (an IPv6 address around the digits). */
export const RUN_BESIDE_COLON = 2;
/** A `+` or `(` sits just before the run (international and `(NXX)` phone numbers). */
export const RUN_AFTER_PLUS_OR_PARENTHESIS = 4;
/** The run is 12 to 14 characters long (the `NXX-NXX-XXXX` phone number form inside it). */
export const RUN_PHONE_LENGTH = 8;
/** The run is 11 characters long with a `-` fourth (`AAA-GG-SSSS`). */
export const RUN_SSN_SHAPE = 16;
/**
 * An upper-case letter sits just before the run, or a space that follows an upper-case letter, a digit
 * or another space (an IBAN's country code and check digits, or its earlier groups). A space after
 * anything else cannot be inside an IBAN: the IBAN precheck's walk back would stop at it.
 */
export const RUN_AFTER_UPPER_OR_SPACE = 32;
/** Every run: for rules without a condition of this kind. */
export const RUN_ANY = 64;

/** The shape bits of the digit run [start, end) of `text` (see the constants above). */
export function digitRunShape(text: string, start: number, end: number): number {
  let shape = RUN_ANY;
  const length = end - start;
  if (length >= 7) {
    let dots = 0;
    for (let index = start + 1; index < end && dots < 3; index++) if (text.charCodeAt(index) === 46) dots++;
    if (dots >= 3) shape |= RUN_THREE_DOTS;
  }
  const before = text.charCodeAt(start - 1);
  if (before === 58 || text.charCodeAt(end) === 58) shape |= RUN_BESIDE_COLON;
  if (before === 43 || before === 40) shape |= RUN_AFTER_PLUS_OR_PARENTHESIS;
  if (length >= 12 && length <= 14) shape |= RUN_PHONE_LENGTH;
  if (length === 11 && text.charCodeAt(start + 3) === 45) shape |= RUN_SSN_SHAPE;
  if (isUpperCode(before) || (before === 32 && ibanCodeBeforeSpace(text.charCodeAt(start - 2))))
    shape |= RUN_AFTER_UPPER_OR_SPACE;
  return shape;
}

const isUpperCode = (code: number): boolean => code >= 65 && code <= 90;

/** Whether `code`, just before the space before a run, lets the run continue an IBAN: a letter A-Z, a digit or a space. */
export function ibanCodeBeforeSpace(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 48 && code <= 57) || code === 32;
}
