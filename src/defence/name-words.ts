/**
 * Splits a tool or argument name into lower-case words, whatever the naming style: `write_file`, `writeFile`,
 * `fs.runCommand`, `RUNCommand` and `send-message.v2` all come apart at the same places. One splitter for the
 * scan, the detectors and inline defence, so that they read a name alike.
 */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .split(/[^A-Za-z0-9]+|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])/)
    .filter((word) => word.length > 0)
    .map((word) => word.toLowerCase());
}

/**
 * Verbs that only read. A name whose first verb is one of them reads, whatever its nouns: `read_email`,
 * `get_sent_messages` and `search_contacts(email=...)` look things up; they send nothing.
 */
export const READ_VERBS: ReadonlySet<string> = new Set([
  "get",
  "list",
  "search",
  "find",
  "read",
  "query",
  "lookup",
  "show",
  "describe",
  "fetch",
  "view",
  "check",
  "count",
  "retrieve",
]);

/** Verbs that create or change something (the flow detectors' `write` capability). */
export const WRITE_VERBS: ReadonlySet<string> = new Set([
  "create",
  "write",
  "append",
  "update",
  "edit",
  "set",
  "add",
  "insert",
  "put",
  "save",
  "modify",
  "rename",
  "move",
  "reschedule",
  "schedule",
  "patch",
  "commit",
  "push",
  "merge",
  "store",
  "book",
  "reserve",
]);

/** Verbs that delete or take away (the flow detectors' `delete` capability). */
export const DELETE_VERBS: ReadonlySet<string> = new Set([
  "delete",
  "remove",
  "drop",
  "destroy",
  "purge",
  "erase",
  "wipe",
  "truncate",
  "revoke",
]);

/**
 * Verbs that lift a protection (the flow detectors' `admin` capability on their own): unlocking a door or an
 * account, disarming an alarm, disabling a check changes who may do what as surely as granting a role.
 */
export const ACCESS_VERBS: ReadonlySet<string> = new Set(["unlock", "disarm", "disable", "deactivate", "bypass"]);

/** Verbs that send, pay, change, delete or run something: a name whose first verb is one of them does not read. */
export const ACTION_VERBS: ReadonlySet<string> = new Set([
  ...WRITE_VERBS,
  ...DELETE_VERBS,
  ...ACCESS_VERBS,
  // Sending.
  "send",
  "post",
  "upload",
  "share",
  "forward",
  "publish",
  "reply",
  "invite",
  "notify",
  "submit",
  "export",
  "broadcast",
  // Paying.
  "pay",
  "transfer",
  "wire",
  "refund",
  "purchase",
  "buy",
  "withdraw",
  "deposit",
  "remit",
  // Changing access or state, cancelling, running.
  "cancel",
  "archive",
  "mark",
  "flag",
  "grant",
  "reset",
  "change",
  "assign",
  "elevate",
  "exec",
  "execute",
  "run",
  "eval",
  "spawn",
  "install",
]);

/**
 * The first verb of a tool name, past any service or server prefix (`gmail_get_message` → `get`,
 * `mcp__slack__list_channels` → `list`): its first word in {@link READ_VERBS} or {@link ACTION_VERBS}, or
 * `undefined` for a name without one (`email_report`). A name whose first verb is a read verb reads.
 */
export function firstVerb(words: readonly string[]): string | undefined {
  return words.find((word) => READ_VERBS.has(word) || ACTION_VERBS.has(word));
}

/**
 * Destinations that an id or number can name (`channel_id`, `account_number`, `recipient_id`). Not `email` or
 * `url`: an `email_id` is the id of a message, not an address.
 */
export const PARTY_WORDS: ReadonlySet<string> = new Set([
  "recipient",
  "receiver",
  "payee",
  "beneficiary",
  "destination",
  "target",
  "account",
  "channel",
  "chat",
  "conversation",
  "phone",
  "wallet",
  "participant",
  "invitee",
]);
