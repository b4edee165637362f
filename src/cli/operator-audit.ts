import { userInfo } from "node:os";
import { ToolwatchError } from "../core/errors.js";
import type { OperatorAction, OperatorActionName } from "../core/operator-action.js";
import { describeError } from "../store/drop-log.js";
import { SqliteStore } from "../store/sqlite-store.js";
import { pendingAction } from "../store/stored-record.js";

/**
 * The operating-system user running the CLI. The login name from the system, not `$USER`, which the caller sets
 * as it likes; `$USER` only when the system has no entry for the process's uid (a container's arbitrary uid).
 */
export function localOperator(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? `uid ${process.getuid?.() ?? "unknown"}`;
  }
}

/**
 * The audit chain of one database, opened for a CLI command's operator actions.
 *
 * Open it before making the change: a database that cannot be written then stops the command before anything
 * changed, instead of letting the change go unrecorded. Each action is committed at once, not buffered; a failed
 * commit undoes the change it records and throws, so no change stands without its trace.
 */
export class OperatorAuditTrail {
  private constructor(private readonly store: SqliteStore) {}

  /** Throws {@link ToolwatchError} `store_unavailable` when the database cannot be opened for writing. */
  static open(path: string): OperatorAuditTrail {
    return new OperatorAuditTrail(new SqliteStore(path));
  }

  /**
   * Commits one action by {@link localOperator}, through the CLI, now; returns it as stored.
   * @param undo reverts the change, called when the action cannot be committed (a read has nothing to revert).
   */
  record(
    action: OperatorActionName,
    target: string,
    detail: Record<string, unknown>,
    undo: () => void = () => {},
  ): OperatorAction {
    const entry: OperatorAction = {
      time: new Date().toISOString(),
      actor: localOperator(),
      via: "cli",
      action,
      target,
      detail,
    };
    try {
      this.store.writeBatch([pendingAction(entry)]);
    } catch (error) {
      undo();
      throw new ToolwatchError(
        "store_unavailable",
        `${action} ${target} could not be recorded in the audit chain of ${this.store.path}: ${describeError(error)}`,
        { cause: error },
      );
    }
    return entry;
  }

  close(): void {
    this.store.close();
  }
}
