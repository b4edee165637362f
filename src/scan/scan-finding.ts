/** How bad a scan finding is, worst first in {@link SEVERITIES}. */
export type ScanSeverity = "critical" | "high" | "medium" | "low" | "info";

/** Every severity, worst first. */
export const SEVERITIES: readonly ScanSeverity[] = ["critical", "high", "medium", "low", "info"];

/** A larger number is worse. */
export function severityRank(severity: ScanSeverity): number {
  return SEVERITIES.length - SEVERITIES.indexOf(severity);
}

/** Whether `severity` is at or above `threshold`. */
export function atLeast(severity: ScanSeverity, threshold: ScanSeverity): boolean {
  return severityRank(severity) >= severityRank(threshold);
}

/** What a finding is about. */
export type ScanTargetKind = "server" | "tool" | "resource" | "resource_template" | "prompt";

/** One problem the scan found in a server's listed definitions. */
export interface ScanFinding {
  /** The rule that found it (see `SCAN_RULES`). */
  ruleId: string;
  severity: ScanSeverity;
  targetKind: ScanTargetKind;
  /** The tool, resource or prompt name (the resource URI when it has no name); the server's name for `server`. */
  target: string;
  /** Where in the definition: `description`, `inputSchema.properties.path`, `name`, `instructions`… */
  field: string;
  /** One line for people; quotes are clipped and hidden characters named, never echoed. */
  message: string;
  /** UTF-16 span in the field's text, when the finding is about a part of it. */
  span?: { start: number; end: number };
  /** The evidence behind the finding (matched name tokens, properties, signals). */
  evidence?: string[];
}

/** Orders findings worst first, then by target and rule, so reports and SARIF are stable. */
export function compareFindings(a: ScanFinding, b: ScanFinding): number {
  return (
    severityRank(b.severity) - severityRank(a.severity) ||
    a.targetKind.localeCompare(b.targetKind) ||
    a.target.localeCompare(b.target) ||
    a.ruleId.localeCompare(b.ruleId) ||
    a.field.localeCompare(b.field)
  );
}
