import { createHash } from "node:crypto";
import type { ScanFinding, ScanSeverity, ScanTargetKind } from "./scan-finding.js";
import { SCAN_RULES } from "./scan-rules.js";

/** SARIF result levels. */
export type SarifLevel = "error" | "warning" | "note" | "none";

/** The severity → SARIF level mapping (documented in docs/scan.md). */
export const SARIF_LEVEL: Readonly<Record<ScanSeverity, SarifLevel>> = {
  critical: "error",
  high: "error",
  medium: "warning",
  low: "note",
  info: "note",
};

/** GitHub code scanning's `security-severity` (0–10) for each severity. */
const SECURITY_SEVERITY: Readonly<Record<ScanSeverity, string>> = {
  critical: "9.5",
  high: "8.0",
  medium: "5.5",
  low: "3.0",
  info: "0.0",
};

const LOGICAL_KIND: Readonly<Record<ScanTargetKind, string>> = {
  server: "module",
  tool: "function",
  resource: "resource",
  resource_template: "resource",
  prompt: "member",
};

/** Options of {@link toSarif}. */
export interface SarifOptions {
  /** toolwatch's version, for `tool.driver.version`. */
  version: string;
  /** The scanned server as given (command line or URL), for the run's properties. */
  target: string;
  /** The server's own name and version from `initialize`. */
  server?: { name: string; version?: string | undefined } | undefined;
}

/**
 * A SARIF 2.1.0 log of one scan: every rule in `tool.driver.rules` (id, name, descriptions, help,
 * default level) and one result per finding, located logically (server / tool / resource / prompt
 * and the field) since a server's definitions have no file to point at.
 */
export function toSarif(findings: readonly ScanFinding[], options: SarifOptions): Record<string, unknown> {
  const ruleIndex = new Map(SCAN_RULES.map((rule, index) => [rule.id, index]));
  const rules = SCAN_RULES.map((rule) => ({
    id: rule.id,
    name: rule.name,
    shortDescription: { text: rule.summary },
    fullDescription: { text: rule.help },
    help: { text: rule.help, markdown: `**${rule.summary}.** ${rule.help}` },
    helpUri: `https://github.com/toolwatch/toolwatch/blob/main/docs/scan.md#${rule.id}`,
    defaultConfiguration: { level: SARIF_LEVEL[rule.severity] },
    properties: {
      tags: ["security", "mcp"],
      "security-severity": SECURITY_SEVERITY[rule.severity],
    },
  }));
  const results = findings.map((finding) => {
    const qualified = `${finding.targetKind}/${finding.target}`;
    const result: Record<string, unknown> = {
      ruleId: finding.ruleId,
      level: SARIF_LEVEL[finding.severity],
      message: { text: `${finding.targetKind} ${finding.target}: ${finding.message}` },
      locations: [
        {
          logicalLocations: [
            { name: finding.target, fullyQualifiedName: qualified, kind: LOGICAL_KIND[finding.targetKind] },
            { name: finding.field, fullyQualifiedName: `${qualified}#${finding.field}`, kind: "member" },
          ],
        },
      ],
      partialFingerprints: {
        "toolwatchFinding/v1": createHash("sha256")
          .update(`${finding.ruleId}\u0000${qualified}\u0000${finding.field}`)
          .digest("hex")
          .slice(0, 32),
      },
      properties: {
        severity: finding.severity,
        "security-severity": SECURITY_SEVERITY[finding.severity],
        targetKind: finding.targetKind,
        target: finding.target,
        field: finding.field,
        ...(finding.span === undefined ? {} : { span: finding.span }),
        ...(finding.evidence === undefined ? {} : { evidence: finding.evidence }),
      },
    };
    const index = ruleIndex.get(finding.ruleId);
    if (index !== undefined) result.ruleIndex = index;
    return result;
  });
  return {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "toolwatch",
            informationUri: "https://github.com/toolwatch/toolwatch",
            version: options.version,
            semanticVersion: options.version,
            rules,
          },
        },
        invocations: [{ executionSuccessful: true }],
        results,
        properties: {
          target: options.target,
          ...(options.server === undefined ? {} : { server: options.server }),
        },
      },
    ],
  };
}
