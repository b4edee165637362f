export {
  CAPABILITY_WORDS,
  type Capability,
  type CapabilityMatch,
  COMMAND_PROPERTIES,
  detectCapabilities,
  nameWords,
  type ToolShape,
} from "./capability-heuristics.js";
export {
  describeTarget,
  type ListServerOptions,
  type ListServerResult,
  listServer,
  type ScanTarget,
} from "./list-server.js";
export { SARIF_LEVEL, type SarifLevel, type SarifOptions, toSarif } from "./sarif-report.js";
export {
  type PromptDefinition,
  printable,
  type ResourceDefinition,
  type ResourceTemplateDefinition,
  type ScanOptions,
  type ServerDefinitions,
  scanDefinitions,
  type ToolDefinition,
} from "./scan-definitions.js";
export {
  atLeast,
  compareFindings,
  type ScanFinding,
  type ScanSeverity,
  type ScanTargetKind,
  SEVERITIES,
  severityRank,
} from "./scan-finding.js";
export { countBySeverity, formatScanReport, SCAN_EXIT, scanExitCode } from "./scan-report.js";
export { SCAN_RULES, type ScanRule, scanRule } from "./scan-rules.js";
