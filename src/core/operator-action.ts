/**
 * What operators can do to toolwatch itself that changes what it reports or lets through, or that reads what it
 * withheld. Each is kept in the audit chain: silencing an alert or accepting a changed tool definition is exactly
 * what someone covering an attack would do, so who did it, when and from where must be as hard to rewrite as the
 * traffic itself.
 *
 * - `silence.add`, `silence.remove`: notifications of a rule held back, or no longer (`target` is the silence id).
 * - `tool.approve`: a changed tool definition accepted as the new pin (`target` is `server/tool`).
 * - `quarantine.show`: withheld content read by an investigator (`target` is the quarantine id).
 */
export const OPERATOR_ACTION_NAMES = ["silence.add", "silence.remove", "tool.approve", "quarantine.show"] as const;

/** One of {@link OPERATOR_ACTION_NAMES}. */
export type OperatorActionName = (typeof OPERATOR_ACTION_NAMES)[number];

/** Where an operator acted from. */
export type OperatorChannel = "admin_api" | "cli";

/**
 * One operator action, as stored in the audit chain beside exchanges, findings and alert state changes. JSON uses
 * these names exactly (`toolwatch audit actions --json` writes one per line).
 */
export interface OperatorAction {
  /** When it was done (RFC 3339 UTC), on the wall clock: operators act in real time, not in a capture's. */
  time: string;
  /** Who: the user the gateway authenticated for the admin API; the operating-system user for the CLI. */
  actor: string;
  via: OperatorChannel;
  action: OperatorActionName;
  /** What it acted on: a silence id, `server/tool`, a quarantine id. */
  target: string;
  /** The admin API caller's address; absent for the CLI. */
  source?: string;
  /** What the action carried: the silence as created, the definition hashes an approval moved between. */
  detail: Record<string, unknown>;
}
