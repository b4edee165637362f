/**
 * What tool and argument names say about themselves, in generic words only: no data set's tool names, recipients
 * or wording. The baseline models use this to tell destinations (where data goes) from values that are expected to
 * vary (free text, record ids), so that a new customer in a support ticket is not an alarm but a new recipient of a
 * transfer can be.
 */
import { firstVerb, nameWords, PARTY_WORDS, READ_VERBS } from "../../defence/name-words.js";

/** Verbs in a tool name that send data, money or access somewhere. */
const OUTBOUND_VERBS: ReadonlySet<string> = new Set([
  "send",
  "post",
  "transfer",
  "upload",
  "share",
  "forward",
  "reply",
  "publish",
  "write",
  "create",
  "invite",
  "pay",
  "submit",
  "push",
  "notify",
  "schedule",
  "wire",
  "export",
  "sync",
  "grant",
  "add",
  "append",
  "update",
]);

/** Channels named as nouns: they make a name with no verb of its own a sending tool (`email_report`, `slack_message`). */
const OUTBOUND_NOUNS: ReadonlySet<string> = new Set(["email", "mail", "message"]);

/** Words in an argument name that make its value a destination: a recipient, account, address or endpoint. */
const DESTINATION_WORDS: ReadonlySet<string> = new Set([
  "to",
  "recipient",
  "recipients",
  "cc",
  "bcc",
  "receiver",
  "payee",
  "beneficiary",
  "destination",
  "target",
  "url",
  "uri",
  "endpoint",
  "webhook",
  "host",
  "hostname",
  "domain",
  "iban",
  "account",
  "bic",
  "swift",
  "phone",
  "email",
  "emails",
  "address",
  "channel",
  "participants",
  "participant",
  "attendees",
  "invitee",
  "invitees",
  "wallet",
  "server",
  "remote",
]);

/** Words in an argument name that make its value an identifier of a record: expected to vary, never alarming alone. */
const IDENTIFIER_WORDS: ReadonlySet<string> = new Set(["id", "ids", "uuid", "key", "ref", "reference", "number"]);

/** Words of an argument holding free text written for people: expected to vary. */
const TEXT_WORDS: ReadonlySet<string> = new Set([
  "body",
  "content",
  "text",
  "message",
  "subject",
  "description",
  "query",
  "title",
  "note",
  "notes",
  "comment",
  "summary",
  "prompt",
  "question",
  "name",
]);

/** Names judged so far: tools and argument names repeat on every call, and splitting them is the costly part. */
const MEMO_SIZE = 4_096;
const outboundMemo = new Map<string, boolean>();
const roleMemo = new Map<string, ArgumentRole>();

function remember<T>(memo: Map<string, T>, key: string, value: T): T {
  // A crude bound: names are few in practice, and a flood of invented ones only costs a re-split.
  if (memo.size >= MEMO_SIZE) memo.clear();
  memo.set(key, value);
  return value;
}

/** True when the tool's name says it sends something out (a message, money, a file, access). */
export function isOutboundTool(tool: string): boolean {
  const known = outboundMemo.get(tool);
  if (known !== undefined) return known;
  return remember(outboundMemo, tool, outboundName(nameWords(tool)));
}

/** A name whose first verb reads reads, whatever its nouns (`read_email`, `gmail_get_message`); else any outbound word. */
function outboundName(words: readonly string[]): boolean {
  const verb = firstVerb(words);
  if (verb !== undefined && READ_VERBS.has(verb)) return false;
  if (words.some((word) => OUTBOUND_VERBS.has(word))) return true;
  // A verb of its own says what the tool does with the channel: `delete_email` deletes, `email_report` sends.
  return verb === undefined && words.some((word) => OUTBOUND_NOUNS.has(word));
}

/** What an argument holds, judged from its name (and, for addresses, its value). */
export type ArgumentRole = "destination" | "identifier" | "text" | "other";

/** The role of the argument at `path` (`to`, `recipients[]`, `payment.iban`), from the last named segment. */
export function argumentRole(path: string): ArgumentRole {
  const known = roleMemo.get(path);
  if (known !== undefined) return known;
  return remember(roleMemo, path, judgeRole(path));
}

function judgeRole(path: string): ArgumentRole {
  const words = nameWords(path.replace(/\[\]/g, ""));
  // A compound name says what it holds in its last word: an `email_subject` is a subject, a `target_date` a date;
  // the word before counts for an identifier (`channel_id`, `account_number`, but `email_id` names a message) and
  // for text (`subject_line`).
  const head = words.at(-1);
  if (head === undefined) return "other";
  const before = words.at(-2);
  if (DESTINATION_WORDS.has(head)) return "destination";
  if (IDENTIFIER_WORDS.has(head)) return before !== undefined && PARTY_WORDS.has(before) ? "destination" : "identifier";
  if (TEXT_WORDS.has(head) || (before !== undefined && TEXT_WORDS.has(before))) return "text";
  return "other";
}
