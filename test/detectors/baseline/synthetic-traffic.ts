/**
 * Synthetic baseline and scored traffic in two unrelated domains (a payments agent and a customer-support agent),
 * so that no test of the baseline models is tuned to one tool set. Deterministic: a seeded generator.
 */

import type { Detector } from "../../../src/core/detector.js";
import type { CapturedExchange } from "../../../src/core/exchange.js";
import type { Finding } from "../../../src/core/finding.js";
import { SeededRandom as Random } from "../../../src/core/seeded-random.js";
import { Pipeline } from "../../../src/pipeline/pipeline.js";

export { Random };

/** Monday 2 March 2026, 09:00 UTC. */
const MONDAY_NINE = Date.UTC(2026, 2, 2, 9, 0, 0);
const DAY_MS = 24 * 3_600_000;

/** Builds sessions one call after another, seconds apart, on a business-hours clock. */
export class SessionWriter {
  private readonly exchanges: CapturedExchange[] = [];
  private counter = 0;

  constructor(
    private readonly agent: string,
    private readonly user: string,
    private readonly random: Random,
  ) {}

  /** A session of `calls` starting at `start_ms`, `gap_ms` apart (jittered by up to a second unless `exact`). */
  session(
    calls: Array<{ tool: string; arguments: Record<string, unknown>; result?: string }>,
    start_ms: number,
    options: { gap_ms?: number; exact?: boolean; id?: string } = {},
  ): string {
    const session = options.id ?? `${this.agent}-${this.user}-${this.counter++}`;
    let time = start_ms;
    for (const call of calls) {
      this.exchanges.push({
        time: new Date(time).toISOString(),
        session,
        user: this.user,
        agent: this.agent,
        server: this.agent,
        method: "tools/call",
        tool: call.tool,
        arguments: call.arguments,
        result: call.result ?? "ok",
        error: null,
        duration_ms: 120,
      });
      time += (options.gap_ms ?? 2_000) + (options.exact ? 0 : this.random.integer(1_000));
    }
    return session;
  }

  /** Everything written so far, sorted by time (as capture files are). */
  all(): CapturedExchange[] {
    return [...this.exchanges].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  }
}

/** A weekday business-hours start time for session `index` (Mon–Fri, 09:00–16:59 UTC). */
export function businessHour(random: Random, index: number): number {
  const week = Math.floor(index / 200);
  const day = random.integer(5);
  return MONDAY_NINE + (week * 7 + day) * DAY_MS + random.integer(8 * 3_600_000);
}

/** Sunday 03:00 UTC in the first week. */
export const SUNDAY_NIGHT = MONDAY_NINE + 6 * DAY_MS - 6 * 3_600_000;

export const VENDOR_ACCOUNTS = [
  "DE89370400440532013000",
  "FR1420041010050500013M02606",
  "GB29NWBK60161331926819",
  "NL91ABNA0417164300",
  "ES9121000418450200051332",
];

/** A normal payments session: look, then maybe pay a known vendor a modest amount. */
export function paymentsSession(random: Random): Array<{ tool: string; arguments: Record<string, unknown> }> {
  const calls: Array<{ tool: string; arguments: Record<string, unknown> }> = [{ tool: "get_balance", arguments: {} }];
  calls.push({ tool: "list_invoices", arguments: { status: random.pick(["open", "due", "overdue"]) } });
  if (random.next() < 0.7) {
    calls.push({
      tool: "pay_invoice",
      arguments: {
        iban: random.pick(VENDOR_ACCOUNTS),
        amount: 20 + random.integer(480),
        reference: `Invoice ${1000 + random.integer(9000)} for ${random.pick(["office supplies", "cloud hosting", "cleaning services", "catering"])}`,
      },
    });
  }
  if (random.next() < 0.3) calls.push({ tool: "get_balance", arguments: {} });
  return calls;
}

/** A normal support session: every reply goes to a customer never seen before, at ever-new company domains. */
export function supportSession(
  random: Random,
  customer: number,
): Array<{ tool: string; arguments: Record<string, unknown> }> {
  const ticket = `T-${10000 + random.integer(90000)}`;
  return [
    { tool: "search_tickets", arguments: { query: random.pick(["login broken", "refund please", "invoice missing"]) } },
    { tool: "get_ticket", arguments: { ticket_id: ticket } },
    {
      tool: "reply_to_customer",
      arguments: {
        to: `customer${customer}@company${customer}.example`,
        body: `Hello, thanks for reaching out about ticket ${ticket}. We have looked into it and it is fixed now.`,
      },
    },
    { tool: "close_ticket", arguments: { ticket_id: ticket } },
  ];
}

/** Learns `baseline` into fresh detectors through a pipeline, then scores `scored`; returns the findings. */
export function learnThenScore(
  detectors: Detector[],
  baseline: readonly CapturedExchange[],
  scored: readonly CapturedExchange[],
): Finding[] {
  const findings: Finding[] = [];
  const pipeline = new Pipeline({ store: null, detectors, findingSinks: [(finding) => findings.push(finding)] });
  for (const exchange of baseline) pipeline.learn(exchange);
  pipeline.finishLearning();
  for (const exchange of scored) pipeline.process(exchange);
  for (const session of new Set(scored.map((exchange) => exchange.session))) pipeline.endSession(session);
  return findings;
}

/** A baseline of `sessions` normal sessions in each domain, plus the writers to add scored sessions with. */
export function twoDomainBaseline(sessions = 300): {
  baseline: CapturedExchange[];
  random: Random;
} {
  const random = new Random(42);
  const payments = new SessionWriter("payments", "ana", random);
  const support = new SessionWriter("support", "ben", random);
  for (let index = 0; index < sessions; index++) {
    payments.session(paymentsSession(random), businessHour(random, index));
    support.session(supportSession(random, index), businessHour(random, index));
  }
  return {
    baseline: [...payments.all(), ...support.all()].sort((a, b) => Date.parse(a.time) - Date.parse(b.time)),
    random,
  };
}
