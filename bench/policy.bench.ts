/**
 * The policy engine on the inline path: microseconds per `checkCall` with a realistic policy file
 * (10 policies, 50 tool globs, argument constraints including a path prefix, a regular expression
 * and a JSON Schema, rate limits per session, user and tool, office hours in Europe/Berlin), over a
 * mix of 60 principals, 40 tools and 200 sessions whose calls are 50 ms apart in event time.
 *
 * Budget: the whole inline check (auth, policy, DLP, poisoning) adds at most 150 µs p50 per call, so
 * policy evaluation aims at a few µs: target p50 <= 5 µs. Also measured: the first call of a
 * principal to a tool (the plan is built and cached), and `isToolVisible` for a `tools/list` of 40 tools.
 *
 * Run: `npx tsc -p . && node dist/bench/policy.bench.js`.
 */
import { pathToFileURL } from "node:url";
import { type PolicyCall, PolicyEngine } from "../src/defence/policy/policy-engine.js";
import { type PolicyDocument, parsePolicy } from "../src/defence/policy/policy-file.js";
import type { BenchResult } from "./bench-result.js";
import { median } from "./bench-statistics.js";

const CALLS = 200_000;
const ROUNDS = 5;

const AGENTS = ["support", "finance", "research", "ops", "sales"];
const SERVERS = ["crm", "mail", "files", "payments", "docs", "ops", "shell", "wiki"];
/** What each agent type mostly calls; one call in ten goes to some other tool (and is usually refused). */
const TYPICAL: Record<string, Array<[string, string]>> = {
  support: [
    ["crm", "get_customer"],
    ["crm", "search_orders"],
    ["mail", "send_email"],
    ["files", "read_file"],
    ["docs", "search_pages"],
  ],
  finance: [
    ["payments", "transfer"],
    ["crm", "get_customer"],
    ["mail", "send_email"],
    ["docs", "search_pages"],
  ],
  research: [
    ["docs", "search_pages"],
    ["wiki", "get_page"],
    ["files", "read_file"],
    ["web", "fetch_page"],
  ],
  ops: [
    ["ops", "restart_service"],
    ["ops", "get_status"],
    ["files", "read_file"],
    ["metrics", "query"],
  ],
  sales: [
    ["crm", "get_customer"],
    ["crm", "search_orders"],
    ["mail", "send_email"],
    ["calendar", "create_event"],
  ],
};
const TOOLS = [
  "get_customer",
  "search_orders",
  "send_email",
  "read_file",
  "transfer",
  "search_pages",
  "restart_service",
];

/** Ten policies with fifty globs between them, written as an operator would. */
function policyText(): string {
  const lines = ["version: 1", "default: allow", "time_zone: Europe/Berlin", "policies:"];
  lines.push(
    "  - name: everyone",
    '    tools: { deny: ["*/delete_*", "*/drop_*", "shell/*", "*/exec_*", "admin/*", "*/purge_*"] }',
    "    rate_limits:",
    '      - { tool: "*", per: session, max: 100, window: 1m }',
    '      - { tool: "*", per: user, max: 5000, window: 1h }',
    "  - name: support-agents",
    "    match: { agent: support }",
    '    tools: { allow: ["crm/*", "mail/send_email", "*/search_*", "files/read_file", "docs/*", "wiki/get_*"] }',
    "    arguments:",
    '      "mail/send_email":',
    '        to: { pattern: "@example\\\\.(com|org)$", max_length: 200 }',
    "        body: { max_length: 10000 }",
    '      "files/read_file":',
    '        path: { path_prefixes: ["/srv/shared/", "/tmp/"] }',
    "    rate_limits:",
    '      - { tool: "mail/send_email", per: session, max: 500, window: 1h }',
    "    time_windows:",
    '      - { days: [mon, tue, wed, thu, fri, sat, sun], from: "00:00", to: "24:00" }',
    "  - name: finance-agents",
    "    match: { agent: finance }",
    '    tools: { allow: ["payments/*", "crm/get_*", "crm/search_*", "docs/search_*", "mail/send_email"] }',
    "    arguments:",
    '      "payments/transfer":',
    '        currency: { allowed_values: ["EUR", "USD"] }',
    "        schema:",
    "          type: object",
    "          required: [amount, currency]",
    "          properties:",
    "            amount: { type: number, exclusiveMinimum: 0, maximum: 1000000 }",
    "    rate_limits:",
    '      - { tool: "payments/*", per: user, max: 100000, window: 1d, each_tool: true }',
  );
  const extra = [
    ["research", '["docs/*", "wiki/*", "*/search_*", "files/read_*", "web/fetch_*"]', '["files/write_*"]'],
    ["ops", '["ops/*", "files/*", "*/get_*", "*/list_*", "metrics/*"]', '["ops/shutdown_*"]'],
    ["sales", '["crm/*", "mail/*", "calendar/*", "docs/search_*"]', '["crm/export_*", "mail/forward_*"]'],
  ] as const;
  for (const [agent, allow, deny] of extra) {
    lines.push(
      `  - name: ${agent}-agents`,
      `    match: { agent: ${agent} }`,
      `    tools: { allow: ${allow}, deny: ${deny} }`,
    );
  }
  lines.push(
    "  - name: contractors",
    '    match: { user: "contractor-*" }',
    '    tools: { deny: ["payments/*", "crm/export_*", "files/read_secret*"] }',
    '    rate_limits: [{ tool: "*", per: user, max: 2000, window: 1h }]',
    "  - name: managers",
    '    match: { user: "manager-*" }',
    '    tools: { allow: ["reports/*", "crm/*"] }',
    "  - name: night-shift",
    '    match: { user: "night-*" }',
    '    time_windows: [{ from: "20:00", to: "08:00" }]',
    "  - name: mail-bulk-guard",
    '    tools: { deny: ["mail/send_bulk*"] }',
    '    rate_limits: [{ tool: "mail/*", per: agent, max: 100000, window: 1h }]',
  );
  return lines.join("\n");
}

function loadPolicy(): PolicyDocument {
  const parsed = parsePolicy(policyText(), "bench-policy.yaml");
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.policy;
}

/** The calls of a busy gateway: realistic arguments, one call every 50 ms of event time. */
function makeCalls(): PolicyCall[] {
  const start = Date.parse("2026-03-02T09:00:00Z");
  const calls: PolicyCall[] = [];
  for (let index = 0; index < CALLS; index++) {
    const agent = AGENTS[index % AGENTS.length]!;
    const userNumber = (index * 7) % 60;
    const user =
      userNumber < 10 ? `contractor-${userNumber}` : userNumber < 15 ? `manager-${userNumber}` : `user-${userNumber}`;
    const typical = TYPICAL[agent]!;
    const [server, tool] =
      index % 10 === 9
        ? [SERVERS[(index * 3) % SERVERS.length]!, TOOLS[(index * 5) % TOOLS.length]!]
        : typical[Math.floor(index / AGENTS.length) % typical.length]!;
    const argumentValues: Record<string, unknown> =
      tool === "send_email"
        ? { to: `person${index % 100}@example.com`, subject: "Your order", body: "Dear customer, ".repeat(20) }
        : tool === "read_file"
          ? { path: index % 10 === 0 ? "/srv/shared/../../etc/passwd" : `/srv/shared/reports/${index % 50}.txt` }
          : tool === "transfer"
            ? { amount: (index % 1000) + 1, currency: index % 7 === 0 ? "GBP" : "EUR", to_account: "DE00 1234" }
            : { query: "open orders", limit: 10 };
    calls.push({
      session: `session-${index % 200}`,
      user,
      agent,
      server,
      tool,
      arguments: argumentValues,
      time_ms: start + index * 50,
    });
  }
  return calls;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Runs the benchmark; prints when `print` is set. */
export async function benchPolicy(options: { print?: boolean } = {}): Promise<BenchResult> {
  const policy = loadPolicy();
  const calls = makeCalls();
  let allowed = 0;

  // Mean per call over the whole run, CPU time, median of rounds: each round a fresh engine on the same calls.
  const meanSamples: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const engine = new PolicyEngine(policy);
    allowed = 0;
    const started = process.cpuUsage();
    for (const call of calls) if (engine.checkCall(call).allowed) allowed++;
    const used = process.cpuUsage(started);
    meanSamples.push(((used.user + used.system) * 1e3) / calls.length);
  }

  // Per-call wall times for p50 and p99 (timer overhead included, about 0.1 µs).
  const engine = new PolicyEngine(policy);
  const perCall: number[] = [];
  for (const call of calls) {
    const started = process.hrtime.bigint();
    engine.checkCall(call);
    perCall.push(Number(process.hrtime.bigint() - started));
  }
  perCall.sort((a, b) => a - b);

  // The first call of a principal to a tool: the plan is built (globs matched) and cached.
  const coldSamples: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const cold = new PolicyEngine(policy);
    const started = process.hrtime.bigint();
    let count = 0;
    for (let user = 0; user < 20; user++) {
      for (const agent of AGENTS) {
        for (const server of SERVERS) {
          for (const tool of TOOLS) {
            cold.isToolVisible({ user: `user-${user}`, agent }, server, tool);
            count++;
          }
        }
      }
    }
    coldSamples.push(Number(process.hrtime.bigint() - started) / count);
  }

  // A tools/list of 40 tools filtered for one principal, cached.
  const listEngine = new PolicyEngine(policy);
  const principal = { user: "user-20", agent: "support" };
  const listStarted = process.hrtime.bigint();
  let visible = 0;
  for (let round = 0; round < 10_000; round++) {
    for (const server of SERVERS.slice(0, 6))
      for (const tool of TOOLS.slice(0, 7)) {
        if (listEngine.isToolVisible(principal, server, tool)) visible++;
      }
  }
  const listMicroseconds = Number(process.hrtime.bigint() - listStarted) / 10_000 / 1000;

  const metrics = {
    check_call_mean_us: median(meanSamples) / 1000,
    check_call_p50_us: quantile(perCall, 0.5) / 1000,
    check_call_p99_us: quantile(perCall, 0.99) / 1000,
    first_call_plan_us: median(coldSamples) / 1000,
    tools_list_42_us: listMicroseconds,
    allowed_share: allowed / calls.length,
  };
  if (options.print) {
    console.log(
      `policy engine: 10 policies, 50 globs, ${calls.length} calls (${(metrics.allowed_share * 100).toFixed(0)}% allowed)`,
    );
    console.log(
      `  checkCall: mean ${metrics.check_call_mean_us.toFixed(2)} µs (CPU, median of ${ROUNDS} rounds), p50 ${metrics.check_call_p50_us.toFixed(2)} µs, p99 ${metrics.check_call_p99_us.toFixed(2)} µs`,
    );
    console.log(`  first call of a principal to a tool (plan built): ${metrics.first_call_plan_us.toFixed(2)} µs`);
    console.log(
      `  tools/list of 42 tools filtered: ${metrics.tools_list_42_us.toFixed(2)} µs (${visible / 10_000} visible)`,
    );
  }
  return { name: "policy", metrics, targets: { check_call_p50_us: { max: 5 } } };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchPolicy({ print: true });
}
