/**
 * What a tool call can do, read from what its name and arguments say in general terms: the verbs in the
 * name (`send`, `transfer`, `delete`) and the names of its arguments (`recipient`, `url`, `iban`). No list of
 * any deployment's tools: the same words mean the same thing in a mail client, a bank or a code host.
 */
import {
  ACCESS_VERBS,
  DELETE_VERBS,
  firstVerb,
  nameWords,
  PARTY_WORDS,
  READ_VERBS,
  WRITE_VERBS,
} from "../../defence/name-words.js";

/** What a call may do, each a reason to look harder at the values it carries. */
export interface ToolCapabilities {
  /** Sends data out of the system: mail, messages, posts, uploads, shares, web requests. */
  outbound: boolean;
  /** Moves money. */
  payment: boolean;
  /** Creates or changes stored data. */
  write: boolean;
  delete: boolean;
  /** Changes who may do what: passwords, roles, permissions, accounts. */
  admin: boolean;
  /** Runs code or commands. */
  exec: boolean;
  /** Top-level argument names that say where the data goes (`to`, `recipient`, `url`). */
  destination_arguments: string[];
}

const OUTBOUND_WORDS = new Set([
  "send",
  "post",
  "upload",
  "share",
  "forward",
  "email",
  "mail",
  "message",
  "publish",
  "tweet",
  "reply",
  "invite",
  "notify",
  "http",
  "https",
  "webhook",
  "submit",
  "export",
  "sms",
  "chat",
  "slack",
  "broadcast",
  "dm",
  "comment",
  "curl",
]);
const PAYMENT_WORDS = new Set([
  "pay",
  "payment",
  "payments",
  "transfer",
  "transaction",
  "transactions",
  "money",
  "wire",
  "refund",
  "purchase",
  "buy",
  "order",
  "withdraw",
  "deposit",
  "invoice",
  "payout",
  "remit",
]);
const ADMIN_WORDS = new Set([
  "admin",
  "grant",
  "role",
  "roles",
  "permission",
  "permissions",
  "password",
  "passwd",
  "credential",
  "credentials",
  "sudo",
  "chmod",
  "chown",
  "privilege",
  "privileges",
  "token",
  "apikey",
  "key",
  "keys",
  "secret",
  "secrets",
  "user",
  "users",
  "account",
  "member",
  "members",
  "acl",
]);
const EXEC_WORDS = new Set([
  "exec",
  "execute",
  "run",
  "shell",
  "command",
  "cmd",
  "eval",
  "bash",
  "sh",
  "terminal",
  "script",
  "spawn",
  "python",
  "powershell",
  "install",
]);
/** Argument names whose values say where data goes. */
const DESTINATION_ARGUMENTS = new Set([
  "to",
  "cc",
  "bcc",
  "recipient",
  "recipients",
  "receiver",
  "email",
  "emails",
  "address",
  "url",
  "uri",
  "endpoint",
  "webhook",
  "host",
  "hostname",
  "domain",
  "iban",
  "account",
  "destination",
  "target",
  "channel",
  "phone",
  "number",
  "participants",
  "attendees",
  "invitees",
  "user",
  "username",
  "handle",
  "share",
  "with",
  "callback",
  "payee",
  "beneficiary",
]);
const WEB_ARGUMENTS = new Set(["url", "endpoint", "webhook", "callback", "host", "hostname", "domain"]);
/** Verbs that take something away or change its state rather than send it. */
const REMOVING_VERBS: ReadonlySet<string> = new Set([...DELETE_VERBS, "archive", "mark", "flag", "cancel"]);
const PAYMENT_ARGUMENTS = new Set(["amount", "iban", "payee", "beneficiary", "currency", "bic", "swift"]);
/** Last words of an argument that names a record by id: a destination when a party word comes before (`channel_id`). */
const ID_WORDS = new Set(["id", "ids", "uuid"]);
/**
 * Nouns that make a name without a verb a read (`conversations.history`, `users.info`, `order_status`): such a
 * name with a `channel` or `user` argument looks something up in it rather than sends to it.
 */
const READ_NOUNS = new Set(["history", "info", "details", "status", "list", "search", "lookup", "stats"]);

export { nameWords };

/** Reads the capabilities of a call from its tool name and its argument names. */
export function toolCapabilities(tool: string, args: Record<string, unknown> | null | undefined): ToolCapabilities {
  const words = nameWords(tool);
  // A name whose first verb reads reads whatever its nouns are: `get_sent_emails`, `slack_list_channels`.
  const verb = firstVerb(words);
  const reads = verb === undefined ? words.some((word) => READ_NOUNS.has(word)) : READ_VERBS.has(verb);
  const has = (set: ReadonlySet<string>): boolean => !reads && words.some((word) => set.has(word));
  const destinations: string[] = [];
  let paymentArgument = false;
  if (args !== null && args !== undefined) {
    for (const key of Object.keys(args)) {
      const keyWords = nameWords(key);
      const last = keyWords[keyWords.length - 1] ?? "";
      const party = ID_WORDS.has(last) && PARTY_WORDS.has(keyWords[keyWords.length - 2] ?? "");
      if (
        party ||
        DESTINATION_ARGUMENTS.has(last) ||
        keyWords.some((word) => word === "recipient" || word === "recipients")
      ) {
        destinations.push(key);
      }
      if (keyWords.some((word) => PAYMENT_ARGUMENTS.has(word))) paymentArgument = true;
    }
  }
  const payment = has(PAYMENT_WORDS) || (paymentArgument && destinations.length > 0);
  // A name whose first verb deletes or changes state names its channel as the thing acted on: `delete_email`
  // and `archive_message` send nothing.
  const removes = verb !== undefined && REMOVING_VERBS.has(verb);
  // A web request sends its URL out whatever its verb: `get_webpage(url=...)` can carry data in a query.
  const webDestination = destinations.some((key) => WEB_ARGUMENTS.has(nameWords(key).at(-1) ?? ""));
  return {
    outbound: (!removes && has(OUTBOUND_WORDS)) || webDestination || (destinations.length > 0 && !reads),
    payment,
    write: has(WRITE_VERBS),
    delete: has(DELETE_VERBS),
    admin:
      (has(ADMIN_WORDS) && (has(WRITE_VERBS) || has(DELETE_VERBS) || has(ADMIN_ACTION_WORDS))) || has(ACCESS_VERBS),
    exec: has(EXEC_WORDS),
    destination_arguments: destinations,
  };
}

/** Verbs that make an admin noun an admin action on their own (`grant_role`, `reset_password`). */
const ADMIN_ACTION_WORDS = new Set(["grant", "reset", "change", "sudo", "chmod", "chown", "elevate", "assign"]);

/** Whether a call could do harm with values an attacker chose: anything but a plain read. */
export function isSensitive(capabilities: ToolCapabilities): boolean {
  return (
    capabilities.outbound ||
    capabilities.payment ||
    capabilities.write ||
    capabilities.delete ||
    capabilities.admin ||
    capabilities.exec
  );
}

/** The more dangerous kinds: a value an attacker chose reaching one of these is worth holding the call. */
export function isHighRisk(capabilities: ToolCapabilities): boolean {
  return (
    capabilities.outbound || capabilities.payment || capabilities.delete || capabilities.admin || capabilities.exec
  );
}

/** The capabilities as words, for messages and evidence (`payment, outbound`). */
export function describeCapabilities(capabilities: ToolCapabilities): string[] {
  const kinds: string[] = [];
  if (capabilities.payment) kinds.push("payment");
  if (capabilities.outbound) kinds.push("outbound");
  if (capabilities.exec) kinds.push("exec");
  if (capabilities.admin) kinds.push("admin");
  if (capabilities.delete) kinds.push("delete");
  if (capabilities.write) kinds.push("write");
  return kinds;
}
