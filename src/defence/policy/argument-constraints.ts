import { posix } from "node:path";

/** The simple constraints one argument may carry. Each given constraint must hold. */
export interface ArgumentConstraint {
  max_length?: number;
  /** A JavaScript regular expression, unanchored: anchor it with `^` and `$` to match the whole value. */
  pattern?: RegExp;
  allowed_values?: Array<string | number | boolean | null>;
  /** Directories (normalised, without trailing slash) the resolved path must lie in. */
  path_prefixes?: string[];
}

/** Why one argument failed its constraint, for the record: which constraint, never the value itself. */
export type ConstraintViolation = { constraint: keyof ArgumentConstraint; reason: string };

/**
 * Checks `value` (present in the arguments) against `constraint`. Values are not echoed in the reason:
 * the record must not copy what DLP may be about to redact.
 */
export function checkArgument(value: unknown, constraint: ArgumentConstraint): ConstraintViolation | null {
  if (constraint.allowed_values !== undefined && !constraint.allowed_values.some((allowed) => allowed === value)) {
    return { constraint: "allowed_values", reason: `is not one of the allowed values (got ${describeType(value)})` };
  }
  const needsString =
    constraint.max_length !== undefined || constraint.pattern !== undefined || constraint.path_prefixes !== undefined;
  if (!needsString) return null;
  if (typeof value !== "string") {
    // A number or an object where a string is constrained could carry what the constraint is meant to stop.
    const constraintName =
      constraint.path_prefixes !== undefined ? "path_prefixes" : constraint.pattern ? "pattern" : "max_length";
    return { constraint: constraintName, reason: `expected a string, got ${describeType(value)}` };
  }
  if (constraint.max_length !== undefined && value.length > constraint.max_length) {
    return {
      constraint: "max_length",
      reason: `is ${value.length} characters long, more than max_length ${constraint.max_length}`,
    };
  }
  if (constraint.pattern !== undefined) {
    constraint.pattern.lastIndex = 0;
    if (!constraint.pattern.test(value)) {
      return { constraint: "pattern", reason: `does not match pattern /${constraint.pattern.source}/` };
    }
  }
  if (constraint.path_prefixes !== undefined) {
    const resolved = resolvePath(value);
    if (resolved === null) {
      return { constraint: "path_prefixes", reason: "is not an absolute path (relative paths cannot be confined)" };
    }
    if (!constraint.path_prefixes.some((prefix) => isWithin(resolved, prefix))) {
      const traversal = /(^|\/)\.\.(\/|$)/.test(value.replaceAll("\\", "/"));
      return {
        constraint: "path_prefixes",
        reason: `${traversal ? "traverses with `..` to" : "resolves to"} a path outside ${constraint.path_prefixes.join(", ")}`,
      };
    }
  }
  return null;
}

/**
 * Resolves a path the way a server would see it without touching the disk: backslashes are taken as
 * separators (a Windows server would), `.` and `..` are removed. Relative paths, paths with NUL bytes and
 * URLs give `null`, since their meaning depends on the server's working directory or scheme. A path
 * with a drive letter (`C:\Data`) comes back lower-cased.
 */
export function resolvePath(value: string): string | null {
  if (value.includes("\0")) return null;
  let path = value.replaceAll("\\", "/");
  const drive = /^[A-Za-z]:\//.exec(path);
  if (drive) path = path.slice(2);
  if (!path.startsWith("/")) return null;
  const normalised = posix.normalize(path);
  const trimmed = normalised.length > 1 && normalised.endsWith("/") ? normalised.slice(0, -1) : normalised;
  // Windows compares paths without regard to case, so a drive path is compared lower-cased.
  return drive ? `${value.slice(0, 2)}${trimmed}`.toLowerCase() : trimmed;
}

/** Normalises a configured prefix; `null` when it is not absolute. */
export function normalisePrefix(prefix: string): string | null {
  return resolvePath(prefix);
}

/** Whether `path` is `prefix` itself or below it, whole path segments only (`/srv/shared` does not hold `/srv/shared-x`). */
function isWithin(path: string, prefix: string): boolean {
  if (prefix === "/") return path.startsWith("/");
  return path === prefix || (path.startsWith(prefix) && path.charCodeAt(prefix.length) === 47);
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `a string of ${value.length} characters`;
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
