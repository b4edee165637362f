import assert from "node:assert/strict";
import { test } from "node:test";
import { TemporalDetector } from "../../src/detectors/baseline/index.js";
import { learnThenScore, twoDomainBaseline } from "./baseline/synthetic-traffic.js";

test("a baseline broken throughout is refused with its first three problems and a count of the rest", () => {
  const trained = new TemporalDetector();
  learnThenScore([trained], twoDomainBaseline(60).baseline, []);
  const saved = JSON.parse(JSON.stringify(trained.saveBaseline())) as {
    agents: Record<string, { hours: unknown[] }>;
  };
  // An editor that quoted every number: one problem per hour of the week, per agent type.
  const agents = Object.values(saved.agents);
  for (const agent of agents) agent.hours = agent.hours.map(String);
  const problems = agents.length * 168;

  const message = new TemporalDetector().loadBaseline(saved) ?? "";
  assert.equal(message.match(/✖/g)?.length, 3, message);
  assert.match(message, /^temporal baseline: ✖ Invalid input: expected number, received string\n {2}→ at agents\./);
  assert.ok(message.endsWith(`\n(and ${problems - 3} more problems)`), message);
});

test("a baseline with one problem is described in full, as z.prettifyError writes it", () => {
  const message = new TemporalDetector().loadBaseline({ version: 1, agents: {}, users: { ana: [1, 2] } }) ?? "";
  assert.equal(message, "temporal baseline: ✖ Too small: expected array to have exactly 168 items\n  → at users.ana");
});
