export {
  type DlpSettings,
  defaultDlpSettings,
  dlpAllowEntrySchema,
  dlpSettingsSchema,
  loadDlpRulesFile,
  parseDlpRules,
} from "./dlp-config.js";
export { builtInRules } from "./dlp-rules.js";
export { DlpEngine, type DlpEngineOptions } from "./dlp-scanner.js";
export type {
  DlpAction,
  DlpCategory,
  DlpContext,
  DlpInspection,
  DlpMatch,
  DlpRule,
  JsonPath,
} from "./dlp-types.js";
export { maskSpans, redactionMarker } from "./redaction.js";
export {
  cardNumberValid,
  ibanValid,
  jwtValid,
  luhnValid,
  publicIpv4,
  publicIpv6,
  shannonEntropy,
  ssnValid,
} from "./validators.js";
