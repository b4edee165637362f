/**
 * Configuration reaches the detectors `createAnalysis` builds: `detectors.rollout_sessions` sets how many sessions
 * of an agent type call a tool its baseline lacks, each a medium, before later ones are a low "rollout".
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig } from "../../src/config/config.js";
import type { CapturedExchange } from "../../src/core/exchange.js";
import type { Finding } from "../../src/core/finding.js";
import { Pipeline } from "../../src/pipeline/pipeline.js";
import { createAnalysis } from "../../src/runtime/analysis.js";

function call(session: string, minute: number, tool: string): CapturedExchange {
  return {
    time: new Date(Date.UTC(2026, 3, 6, 9, minute)).toISOString(),
    session,
    user: "ana",
    agent: "desk",
    server: "crm",
    method: "tools/call",
    tool,
    arguments: {},
    result: "ok",
    error: null,
    duration_ms: 3,
  };
}

async function unseenToolSeverities(yaml: string): Promise<string[]> {
  const analysis = createAnalysis({ config: parseConfig(yaml), rules: null });
  const findings: Finding[] = [];
  const pipeline = new Pipeline({
    store: null,
    detectors: analysis.detectors,
    findingSinks: [(finding) => findings.push(finding)],
  });
  for (let session = 0; session < 30; session++) {
    pipeline.learn(call(`learned-${session}`, session, "get_ticket"));
    pipeline.learn(call(`learned-${session}`, session, "close_ticket"));
  }
  for (let session = 0; session < 4; session++) {
    pipeline.process(call(`scored-${session}`, 40 + session, "get_ticket"));
    pipeline.process(call(`scored-${session}`, 40 + session, "export_customers"));
  }
  await pipeline.finish();
  await analysis.shutdown();
  return findings
    .filter((finding) => finding.detector === "baseline_sequence" && finding.evidence.kind === "unseen_tool")
    .map((finding) => finding.severity);
}

test("detectors.rollout_sessions sets when a tool the baseline lacks becomes a low rollout", async () => {
  assert.deepEqual(await unseenToolSeverities("detectors:\n  rollout_sessions: 2\n"), [
    "medium",
    "medium",
    "low",
    "low",
  ]);
  assert.deepEqual(await unseenToolSeverities("detectors:\n  rollout_sessions: 0\n"), [
    "medium",
    "medium",
    "medium",
    "medium",
  ]);
  // The default is five sessions.
  assert.deepEqual(await unseenToolSeverities("{}\n"), ["medium", "medium", "medium", "medium"]);
  assert.throws(() => parseConfig("detectors:\n  rollout_sessions: -1\n"), /rollout_sessions/);
});
