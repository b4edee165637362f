/**
 * Alert rules and the alert engine (issue 3): YAML rules with a small condition language,
 * windowed evaluation on event time, the alert lifecycle, silences, notifiers, backtests and the
 * Prometheus export. See docs/alert-rules.md.
 */
export {
  type ActiveAlert,
  type AlertEngine,
  type AlertEngineCounters,
  type AlertEngineOptions,
  createAlertEngine,
  formatGroupKey,
  type NotifierRouting,
} from "./alert-engine.js";
export { ALERT_METRIC_NAMES, ALERT_METRICS, type AlertMetricName } from "./alert-metrics.js";
export {
  type ConditionError,
  type ConditionSpec,
  type Dimension,
  type LabelMatcher,
  parseCondition,
  type Threshold,
} from "./condition-parser.js";
export {
  ALERTMANAGER_REPEAT_MS,
  alertmanagerPayload,
  createAlertmanagerNotifier,
} from "./notifiers/alertmanager-notifier.js";
export { type CreateNotifiersOptions, createNotifiers } from "./notifiers/create-notifiers.js";
export {
  type DeliveryCounters,
  DeliveryError,
  type DeliveryQueueOptions,
  QueuedNotifier,
} from "./notifiers/delivery-queue.js";
export { createLogNotifier, formatAlertLine } from "./notifiers/log-notifier.js";
export { createPagerDutyNotifier, PAGERDUTY_EVENTS_URL, pagerDutyPayload } from "./notifiers/pagerduty-notifier.js";
export { createSlackNotifier, slackPayload } from "./notifiers/slack-notifier.js";
export { createWebhookNotifier, webhookPayload } from "./notifiers/webhook-notifier.js";
export { exportPrometheusRules, PROMETHEUS_METRICS, type PrometheusExport } from "./prometheus-export.js";
export {
  ALERT_SEVERITIES,
  type AlertRule,
  type AlertSettings,
  DEFAULT_ALERT_SETTINGS,
  defaultRulesPath,
  formatDiagnostic,
  loadRules,
  type NotifierConfig,
  type ParseRulesResult,
  parseRules,
  type RuleDiagnostic,
  type RuleSet,
} from "./rules-file.js";
export {
  addSilenceToFile,
  createSilence,
  createSilenceFileWatcher,
  parseSilenceMatchers,
  readSilences,
  removeSilenceFromFile,
  type Silence,
  type SilenceRequest,
  silencesPathFor,
  writeSilences,
} from "./silences.js";
