import { checkArgument } from "./argument-constraints.js";
import type { ArgumentRule, CompiledPolicy, PolicyDocument } from "./policy-file.js";
import { type RateLimit, type RateLimitCounters, RateLimitStore } from "./rate-limits.js";
import { DAY_NAMES, isInsideWindow, LocalClock, type TimeWindow } from "./time-windows.js";

/** Who makes a call: the authenticated user and the agent type, when known. */
export interface PolicyPrincipal {
  user: string | null;
  agent: string | null;
}

/** One `tools/call` as the policy sees it. `time_ms` is the event time: replay passes the recorded time. */
export interface PolicyCall extends PolicyPrincipal {
  session: string;
  server: string;
  tool: string;
  arguments: Record<string, unknown> | null;
  time_ms: number;
}

/**
 * The verdict on one call. `rule` names what refused it (`support-agents/tools.deny[0]`,
 * `support-agents/rate_limits[1]`, `default`) and `reason` says precisely why, for the record; neither
 * goes on the wire, where the refusal stays neutral.
 */
export type PolicyDecision = { allowed: true } | { allowed: false; rule: string; reason: string };

/** Options of a `PolicyEngine`. */
export interface PolicyEngineOptions {
  /** The engine this one replaces: its rate-limit state carries over (kept per policy name). */
  previous?: PolicyEngine;
  /** Cap on rate-limit buckets (keys) tracked at once; default 100,000. Ignored when `previous` is given. */
  max_tracked_keys?: number;
}

const ALLOWED: PolicyDecision = Object.freeze({ allowed: true });
const CACHE_LIMIT = 10_000;

/** The policies that apply to one principal and its plans by server and tool. */
interface PrincipalPlans {
  policies: CompiledPolicy[];
  by_server: Map<string, Map<string, ToolPlan>>;
}

/** Everything one principal needs to decide calls to one tool, worked out once and cached. */
interface ToolPlan {
  decision: PolicyDecision;
  arguments: ArgumentRule[];
  rate_limits: RateLimit[];
  time_windows: Array<{ policy: string; windows: TimeWindow[] }>;
}

/**
 * Decides `tools/list` visibility and `tools/call` admission for one compiled policy. Every policy whose
 * `match` fits the principal applies: a deny in any of them wins; allow lists add up (a tool is granted
 * when any applicable allow list names it); when the default is `deny` or any applicable policy has an
 * allow list, a tool no allow list names is refused. Argument constraints, time windows and rate limits
 * of every applicable policy must all hold. Decisions depend only on the call (its event time
 * included), so replay reproduces them.
 */
export class PolicyEngine {
  readonly policy: PolicyDocument;
  private readonly limits: RateLimitStore;
  private readonly clock: LocalClock;
  /** Plans by user, agent, server and tool: nested maps look up the strings the call already holds, no key is built. */
  private readonly plans = new Map<string | null, Map<string | null, PrincipalPlans>>();
  private planCount = 0;

  constructor(policy: PolicyDocument, options: PolicyEngineOptions = {}) {
    this.policy = policy;
    this.limits = options.previous?.limits ?? new RateLimitStore({ max_buckets: options.max_tracked_keys });
    this.clock =
      options.previous?.clock.zone === policy.time_zone ? options.previous.clock : new LocalClock(policy.time_zone);
  }

  /** Whether `tools/list` should show this tool to this principal. Pure and cached. */
  isToolVisible(principal: PolicyPrincipal, server: string, tool: string): boolean {
    return this.plan(principal, server, tool).decision.allowed;
  }

  /** Decides one `tools/call`. The call counts against rate limits only when it is allowed. */
  checkCall(call: PolicyCall): PolicyDecision {
    const plan = this.plan(call, call.server, call.tool);
    if (!plan.decision.allowed) return plan.decision;
    if (plan.time_windows.length > 0) {
      const local = this.clock.at(call.time_ms);
      for (const { policy, windows } of plan.time_windows) {
        if (!windows.some((window) => isInsideWindow(local, window))) {
          const clockText = `${DAY_NAMES[local.day]} ${pad(Math.floor(local.minute / 60))}:${pad(local.minute % 60)}`;
          return {
            allowed: false,
            rule: `${policy}/time_windows`,
            reason: `called at ${clockText} ${this.clock.zone}, outside every allowed time window of policy ${policy}`,
          };
        }
      }
    }
    if (plan.arguments.length > 0) {
      const refusal = checkArguments(plan.arguments, call.arguments ?? {});
      if (refusal !== null) return refusal;
    }
    if (plan.rate_limits.length > 0) {
      const limit = this.limits.admit(plan.rate_limits, call, call.time_ms);
      if (limit !== null) {
        return {
          allowed: false,
          rule: limit.rule,
          reason: `rate limit: already ${limit.max} call(s) to ${limit.tool.source}${limit.each_tool ? " (each tool)" : ""} per ${limit.per} in the last ${formatDuration(limit.window_ms)}`,
        };
      }
    }
    return ALLOWED;
  }

  /** Forgets a session's rate-limit state. */
  endSession(session: string): void {
    this.limits.endSession(session);
  }

  /** Rate-limit state sizes, for metrics. */
  counters(): RateLimitCounters {
    return this.limits.counters();
  }

  private plan(principal: PolicyPrincipal, server: string, tool: string): ToolPlan {
    let byAgent = this.plans.get(principal.user);
    if (byAgent === undefined) {
      byAgent = new Map();
      this.plans.set(principal.user, byAgent);
    }
    let principalPlans = byAgent.get(principal.agent);
    if (principalPlans === undefined) {
      principalPlans = {
        policies: this.policy.policies.filter((policy) => matches(policy, principal)),
        by_server: new Map(),
      };
      byAgent.set(principal.agent, principalPlans);
    }
    let byTool = principalPlans.by_server.get(server);
    if (byTool === undefined) {
      byTool = new Map();
      principalPlans.by_server.set(server, byTool);
    }
    let plan = byTool.get(tool);
    if (plan === undefined) {
      plan = this.buildPlan(principalPlans.policies, server, tool);
      if (this.planCount >= CACHE_LIMIT) {
        // Unbounded principals and tool names come from the wire: start over rather than grow.
        this.plans.clear();
        this.planCount = 0;
      } else {
        byTool.set(tool, plan);
        this.planCount++;
      }
    }
    return plan;
  }

  private buildPlan(policies: CompiledPolicy[], server: string, tool: string): ToolPlan {
    return {
      decision: this.decideTool(policies, server, tool),
      arguments: policies.flatMap((policy) => policy.arguments.filter((rule) => rule.tool.matches(server, tool))),
      rate_limits: policies.flatMap((policy) => policy.rate_limits.filter((limit) => limit.tool.matches(server, tool))),
      time_windows: policies
        .filter((policy) => policy.time_windows.length > 0)
        .map((policy) => ({ policy: policy.name, windows: policy.time_windows })),
    };
  }

  private decideTool(policies: CompiledPolicy[], server: string, tool: string): PolicyDecision {
    const name = `${server}/${tool}`;
    for (const policy of policies) {
      const index = policy.deny.findIndex((pattern) => pattern.matches(server, tool));
      if (index !== -1) {
        return {
          allowed: false,
          rule: `${policy.name}/tools.deny[${index}]`,
          reason: `tool ${name} matches deny pattern ${JSON.stringify(policy.deny[index]!.source)} of policy ${policy.name}`,
        };
      }
    }
    const withAllowList = policies.filter((policy) => policy.allow !== null);
    if (withAllowList.some((policy) => policy.allow!.some((pattern) => pattern.matches(server, tool)))) return ALLOWED;
    if (withAllowList.length > 0) {
      return {
        allowed: false,
        rule: `${withAllowList[0]!.name}/tools.allow`,
        reason: `tool ${name} is not in the allow list of ${withAllowList.map((policy) => policy.name).join(", ")}`,
      };
    }
    if (this.policy.default === "deny") {
      return { allowed: false, rule: "default", reason: `no policy allows tool ${name} and the default is deny` };
    }
    return ALLOWED;
  }
}

function checkArguments(rules: ArgumentRule[], values: Record<string, unknown>): PolicyDecision | null {
  for (const rule of rules) {
    for (const { argument, constraint } of rule.constraints) {
      if (!Object.hasOwn(values, argument)) continue;
      const violation = checkArgument(values[argument], constraint);
      if (violation !== null) {
        return {
          allowed: false,
          rule: `${rule.rule}.${argument}.${violation.constraint}`,
          reason: `argument ${JSON.stringify(argument)} ${violation.reason}`,
        };
      }
    }
    if (rule.schema !== null && !rule.schema(values)) {
      const error = rule.schema.errors?.[0];
      const where = error?.instancePath ? `at ${error.instancePath} ` : "";
      return {
        allowed: false,
        rule: `${rule.rule}.schema`,
        reason: `arguments fail the JSON Schema: ${where}${error?.message ?? "invalid"}`,
      };
    }
  }
  return null;
}

function matches(policy: CompiledPolicy, principal: PolicyPrincipal): boolean {
  const { agent, user } = policy.match;
  if (agent !== null && (principal.agent === null || !agent.test(principal.agent))) return false;
  if (user !== null && (principal.user === null || !user.test(principal.user))) return false;
  return true;
}

function pad(value: number): string {
  return value < 10 ? `0${value}` : String(value);
}

function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
