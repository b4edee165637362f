export type { ArgumentConstraint } from "./argument-constraints.js";
export {
  type PolicyCall,
  type PolicyDecision,
  PolicyEngine,
  type PolicyEngineOptions,
  type PolicyPrincipal,
} from "./policy-engine.js";
export {
  type ArgumentRule,
  type CompiledPolicy,
  loadPolicyFile,
  type PolicyDocument,
  type PolicyMatch,
  type PolicyParseResult,
  parsePolicy,
} from "./policy-file.js";
export { PolicyHolder, type PolicyHolderOptions } from "./policy-holder.js";
export type { RateLimit, RateLimitCounters, RateLimitScope } from "./rate-limits.js";
export type { TimeWindow } from "./time-windows.js";
