import type { ServerDefinitions } from "./scan-definitions.js";
import { atLeast, type ScanFinding, type ScanSeverity, SEVERITIES } from "./scan-finding.js";

/** Exit codes of `toolwatch scan` (docs/scan.md). */
export const SCAN_EXIT = {
  /** Nothing at or above `--fail-on`. */
  clean: 0,
  /** At least one finding at or above `--fail-on`. */
  findings: 1,
  /** The server could not be scanned (did not start, did not answer, bad usage). */
  failed: 2,
} as const;

/** The exit code for `findings` with the threshold `failOn` (`none` never fails on findings). */
export function scanExitCode(findings: readonly ScanFinding[], failOn: ScanSeverity | "none"): 0 | 1 {
  if (failOn === "none") return SCAN_EXIT.clean;
  return findings.some((finding) => atLeast(finding.severity, failOn)) ? SCAN_EXIT.findings : SCAN_EXIT.clean;
}

/** How many findings there are of each severity. */
export function countBySeverity(findings: readonly ScanFinding[]): Record<ScanSeverity, number> {
  const counts = Object.fromEntries(SEVERITIES.map((severity) => [severity, 0])) as Record<ScanSeverity, number>;
  for (const finding of findings) counts[finding.severity]++;
  return counts;
}

/** The text report: what was listed, then the findings worst first, grouped by target, then a summary. */
export function formatScanReport(
  target: string,
  definitions: ServerDefinitions,
  findings: readonly ScanFinding[],
  failOn: ScanSeverity | "none",
): string {
  const lines: string[] = [];
  const server = definitions.server;
  lines.push(`toolwatch scan: ${target}`);
  if (server !== undefined)
    lines.push(`server: ${server.name}${server.version === undefined ? "" : ` ${server.version}`}`);
  lines.push(
    `listed: ${definitions.tools.length} tools, ${definitions.resources?.length ?? 0} resources, ` +
      `${definitions.resourceTemplates?.length ?? 0} resource templates, ${definitions.prompts?.length ?? 0} prompts`,
  );
  lines.push("");
  if (findings.length === 0) {
    lines.push("no findings");
  } else {
    for (const finding of findings) {
      lines.push(
        `${finding.severity.toUpperCase().padEnd(8)} ${finding.ruleId}  ${finding.targetKind} ${finding.target} (${finding.field})`,
      );
      lines.push(`         ${finding.message}`);
    }
  }
  lines.push("");
  const counts = countBySeverity(findings);
  const summary = SEVERITIES.filter((severity) => counts[severity] > 0)
    .map((severity) => `${counts[severity]} ${severity}`)
    .join(", ");
  const failing = scanExitCode(findings, failOn) === SCAN_EXIT.findings;
  lines.push(
    `${findings.length} finding${findings.length === 1 ? "" : "s"}${summary.length > 0 ? ` (${summary})` : ""}; ` +
      (failOn === "none"
        ? "--fail-on none: exit 0"
        : failing
          ? `at or above ${failOn}: exit 1`
          : `none at or above ${failOn}: exit 0`),
  );
  return `${lines.join("\n")}\n`;
}
