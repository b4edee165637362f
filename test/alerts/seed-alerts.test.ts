import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createAlertEngine } from "../../src/alerts/alert-engine.js";
import { defaultRulesPath, loadRules, type RuleSet } from "../../src/alerts/rules-file.js";
import type { CapturedExchange } from "../../src/core/exchange.js";
import type { AlertEvent } from "../../src/core/notifier.js";
import { AUTH_DENY, DLP_BLOCK, EPOCH, exchangeAt, feed, TOOL_ERROR } from "./alert-test-helpers.js";

function shippedRules(): RuleSet {
  const result = loadRules(defaultRulesPath());
  assert.ok(result.ok, "the shipped rules are valid");
  assert.deepEqual(result.warnings, [], "the shipped rules have actions and runbooks");
  return result.rules;
}

interface Scenario {
  /** Exchanges relative to `base` (ms since the epoch). */
  traffic(base: number): CapturedExchange[];
  /** Known-normal traffic learned first. */
  baseline?(base: number): CapturedExchange[];
  /** Labels the firing alert must carry. */
  group?: Record<string, string>;
}

interface SeedCase {
  rule: string;
  fires: Scenario;
  quiet: Scenario;
}

/** 25 normal banking sessions of two tools each: the baseline median is 2 unique tools. */
function normalSessions(base: number): CapturedExchange[] {
  const exchanges: CapturedExchange[] = [];
  for (let session = 0; session < 25; session++) {
    for (const [offset, tool] of ["get_balance", "get_transactions", "get_balance"].entries()) {
      exchanges.push(
        exchangeAt(base - 86_400_000 + session * 60_000 + offset * 1_000, { session: `normal-${session}`, tool }),
      );
    }
  }
  return exchanges;
}

function toolsSession(base: number, session: string, tools: number): CapturedExchange[] {
  const exchanges: CapturedExchange[] = [];
  for (let index = 0; index < tools; index++) {
    exchanges.push(exchangeAt(base + index * 2_000, { session, tool: `tool_${index}` }));
    exchanges.push(exchangeAt(base + index * 2_000 + 500, { session, tool: "tool_0" }));
  }
  return exchanges;
}

const SEEDS: SeedCase[] = [
  {
    rule: "dlp_block_spike",
    fires: {
      traffic: (base) =>
        Array.from({ length: 11 }, (_, index) =>
          exchangeAt(base + index * 3_000, { tool: "send_email", decisions: [DLP_BLOCK] }),
        ),
    },
    quiet: {
      // Eleven blocks, but never more than nine in any minute.
      traffic: (base) =>
        Array.from({ length: 11 }, (_, index) =>
          exchangeAt(base + index * 7_000, { tool: "send_email", decisions: [DLP_BLOCK] }),
        ),
    },
  },
  {
    rule: "tool_error_sustained",
    fires: {
      traffic: (base) =>
        Array.from({ length: 12 }, (_, index) =>
          exchangeAt(base + index * 20_000, { tool: "search", ...(index % 3 === 0 ? { error: TOOL_ERROR } : {}) }),
        ),
      group: { tool: "search" },
    },
    quiet: {
      traffic: (base) => [
        // 2 failures in 12 calls (17%), and a tool with too few calls to judge.
        ...Array.from({ length: 12 }, (_, index) =>
          exchangeAt(base + index * 20_000, { tool: "search", ...(index < 2 ? { error: TOOL_ERROR } : {}) }),
        ),
        ...Array.from({ length: 5 }, (_, index) =>
          exchangeAt(base + 250_000 + index * 1_000, {
            tool: "flaky",
            error: { type: "timeout", message: "timed out" },
          }),
        ),
      ],
    },
  },
  {
    rule: "session_anomaly",
    fires: {
      baseline: normalSessions,
      traffic: (base) => toolsSession(base, "wide", 7),
      group: { session: "wide", agent: "banking" },
    },
    quiet: {
      baseline: normalSessions,
      traffic: (base) => toolsSession(base, "busy-but-normal", 6),
    },
  },
  {
    rule: "auth_failure_burst",
    fires: {
      traffic: (base) =>
        Array.from({ length: 6 }, (_, index) =>
          exchangeAt(base + index * 4_000, {
            method: "initialize",
            tool: null,
            source: "10.0.0.7",
            decisions: [AUTH_DENY],
            error: { type: "-32001", message: "unauthorised" },
          }),
        ),
      group: { source: "10.0.0.7" },
    },
    quiet: {
      traffic: (base) => [
        // Six failures from three sources, and five from one: never more than five from one source.
        ...Array.from({ length: 6 }, (_, index) =>
          exchangeAt(base + index * 3_000, {
            method: "initialize",
            source: `10.0.0.${index % 3}`,
            decisions: [AUTH_DENY],
          }),
        ),
        ...Array.from({ length: 5 }, (_, index) =>
          exchangeAt(base + 20_000 + index * 1_000, {
            method: "initialize",
            source: "10.0.0.9",
            decisions: [AUTH_DENY],
          }),
        ),
      ],
    },
  },
  {
    rule: "latency_degradation",
    fires: {
      traffic: (base) =>
        Array.from({ length: 20 }, (_, index) =>
          exchangeAt(base + index * 15_000, { tool: "slow_search", duration_ms: index === 12 ? 3_000 : 400 }),
        ),
      group: { tool: "slow_search" },
    },
    quiet: {
      traffic: (base) => [
        // One slow call in 200 is the 99.5th percentile, not the 99th; five slow calls are too few to judge.
        ...Array.from({ length: 200 }, (_, index) =>
          exchangeAt(base + index * 2_500, { tool: "search", duration_ms: index === 150 ? 3_000 : 300 }),
        ),
        ...Array.from({ length: 5 }, (_, index) =>
          exchangeAt(base + 100_000 + index * 1_000, { tool: "rare", duration_ms: 5_000 }),
        ),
      ],
    },
  },
];

function run(
  rules: RuleSet,
  scenario: Scenario,
  mode: "replay" | "live",
): { events: AlertEvent[]; tick(ms: number): void } {
  const events: AlertEvent[] = [];
  const engine = createAlertEngine({ rules, onEvent: (event) => events.push(event) });
  // Live: the traffic ends now, stamped with wall time; replay: it starts at a fixed past epoch.
  const span = Math.max(...scenario.traffic(0).map((exchange) => Date.parse(exchange.time)));
  const base = mode === "replay" ? EPOCH : Date.now() - span;
  for (const exchange of scenario.baseline?.(base) ?? []) engine.learn(exchange);
  feed(engine, scenario.traffic(base));
  if (mode === "live") engine.tick(Date.now());
  return { events, tick: (ms) => engine.tick(ms) };
}

for (const mode of ["replay", "live"] as const) {
  describe(`seed alerts (${mode === "replay" ? "replay, event time" : "live, wall time"})`, () => {
    const rules = shippedRules();
    for (const seed of SEEDS) {
      test(`${seed.rule} fires on traffic that should trigger it`, () => {
        const { events } = run(rules, seed.fires, mode);
        const firing = events.filter((event) => event.rule === seed.rule && event.state === "firing");
        assert.equal(firing.length, 1, `one firing alert, got ${JSON.stringify(events.map((event) => event.summary))}`);
        const alert = firing[0]!;
        for (const [label, value] of Object.entries(seed.fires.group ?? {})) assert.equal(alert.labels[label], value);
        assert.ok(alert.action && alert.runbook?.startsWith("docs/runbooks.md#ir-"), "carries its action and runbook");
        assert.equal(typeof alert.values.value, "number");
        assert.deepEqual(
          events.filter((event) => event.rule !== seed.rule),
          [],
          "no other seed rule fires",
        );
      });
      test(`${seed.rule} stays quiet on traffic that should not trigger it`, () => {
        const { events } = run(rules, seed.quiet, mode);
        assert.deepEqual(
          events.map((event) => event.summary),
          [],
        );
      });
    }
  });
}

test("every seed alert resolves in replay once its traffic stops (event time only)", () => {
  const rules = shippedRules();
  for (const seed of SEEDS) {
    const events: AlertEvent[] = [];
    const engine = createAlertEngine({ rules, onEvent: (event) => events.push(event) });
    for (const exchange of seed.fires.baseline?.(EPOCH) ?? []) engine.learn(exchange);
    feed(engine, seed.fires.traffic(EPOCH));
    // Later, unrelated traffic moves event time on; the session alert resolves when its session idles out.
    feed(engine, [exchangeAt(EPOCH + 3_600_000, { session: "later", tool: "noop" })]);
    assert.deepEqual(
      events.filter((event) => event.rule === seed.rule).map((event) => event.state),
      ["firing", "resolved"],
      seed.rule,
    );
    const resolved = events.at(-1)!;
    assert.ok(
      Date.parse(resolved.time) < EPOCH + 3_600_000,
      `${seed.rule} resolved at ${resolved.time}, before the later traffic`,
    );
  }
});
