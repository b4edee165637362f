/**
 * Who a value reaches, and who wrote a text: the two questions behind a routine request. A request that a
 * customer wrote and a desk acts on stays between them; one that sends something to an address the customer did
 * not write from reaches an outside party. Shared by the flow detectors and the inline guard's flow check.
 */

const EMAIL_ADDRESS = /^[^\s@]+@[^\s@]+\.[a-z]{2,}$/i;
const WEB_ADDRESS = /^(?:[a-z][a-z0-9+.-]*:\/\/\S+|(?:[a-z0-9-]+\.)+[a-z]{2,}(?:[/:?#]\S*)?)$/i;
const BANK_ACCOUNT = /^[a-z]{2}\d{2}[a-z0-9]{10,30}$/i;
/** A phone or account number once spaces, dashes, dots and brackets are gone. */
const NUMBER_ADDRESS = /^\+?\d{7,}$/;

/** An e-mail address inside a longer text. */
const EMAIL_IN_TEXT = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
/** How far back from an address its field's name is looked for. */
const AUTHOR_LOOKBACK = 160;
/** A mail header or `key: value` line naming the author, up to the address (`From: Lee Park <`, `sender: `). */
const AUTHOR_LINE_HEAD = /^[ \t>*-]*(?:from|sender|author|reply[-_ ]?to)[ \t]*:[^:\n]*$/i;
/** The same as a JSON key, up to the address, also inside a small object (`"sender": {"name": "Lee", "email": "`). */
const AUTHOR_KEY_HEAD = /"(?:from|sender|author|reply_?to)"[ \t]*:[ \t]*(?:\{[^{}]*?)?"?[^"\n]*$/i;

/**
 * Whether a value, on its own, is an address that reaches someone: an e-mail or web address, a bank account, a
 * phone or account number. A street address, an order or a ticket id reaches nobody.
 */
export function reachesSomeone(value: string): boolean {
  const text = value.trim();
  if (EMAIL_ADDRESS.test(text) || WEB_ADDRESS.test(text)) return true;
  const compact = text.replace(/[\s().-]/g, "");
  return BANK_ACCOUNT.test(compact) || NUMBER_ADDRESS.test(compact);
}

/** Whether the address at `start` of `text` is the value of an author field (a `From:` line, a `"sender"` key). */
export function namesAuthor(text: string, start: number): boolean {
  const lineStart = text.lastIndexOf("\n", start - 1) + 1;
  if (start - lineStart <= AUTHOR_LOOKBACK && AUTHOR_LINE_HEAD.test(text.slice(lineStart, start))) return true;
  return AUTHOR_KEY_HEAD.test(text.slice(Math.max(lineStart, start - AUTHOR_LOOKBACK), start));
}

/** The e-mail addresses that name the author of `text` (a mail's `From:`, a record's `sender`), at most `maximum`. */
export function authorAddresses(text: string, maximum: number): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(EMAIL_IN_TEXT)) {
    if (found.length >= maximum) break;
    if (namesAuthor(text, match.index) && !found.includes(match[0])) found.push(match[0]);
  }
  return found;
}
