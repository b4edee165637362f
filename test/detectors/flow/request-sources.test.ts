import assert from "node:assert/strict";
import { test } from "node:test";
import type { CapturedExchange } from "../../../src/core/exchange.js";
import type { Finding } from "../../../src/core/finding.js";
import { describeFlowBaseline } from "../../../src/detectors/flow/flow-analysis.js";
import { FlowAnalysis, RequestSources } from "../../../src/detectors/flow/index.js";
import { defaultDetectors } from "../../../src/detectors/index.js";
import { Pipeline } from "../../../src/pipeline/pipeline.js";
import { isCapturedExchange } from "../../../src/record/capture-record.js";
import { loadBaselineInto, trainBaseline } from "../../../src/runtime/baseline-file.js";
import {
  SUPPORT_ATTACK_KINDS,
  type SupportSession,
  supportDeskBaseline,
  supportDeskTest,
} from "../../fixtures/support-desk-traffic.js";

/**
 * Learns `results` results of `source` (the first `flagged` of them flagged by the model, the next `rules` with a rule
 * signal), each in its own session followed by `follower` in `follows` of them.
 */
function teach(
  sources: RequestSources,
  options: { results: number; flagged: number; follows: number; rules?: number; source?: string; follower?: string },
): void {
  const source = options.source ?? "get_ticket";
  const follower = options.follower ?? "issue_refund";
  for (let index = 0; index < options.results; index++) {
    const session = `s${source}${index}`;
    sources.learnCall("desk", session, source);
    const rules = options.flagged + (options.rules ?? 0);
    sources.learnResult("desk", session, source, index < options.flagged ? "model" : index < rules ? "rules" : "clean");
    if (index < options.follows) {
      sources.learnCall("desk", session, follower);
      sources.learnResult("desk", session, follower, "clean");
    }
  }
}

test("a tool is a routine request source once a fifth of at least ten baseline results were flagged", () => {
  const sources = new RequestSources();
  teach(sources, { results: 10, flagged: 2, follows: 3 });
  assert.deepEqual(sources.routineSource("desk", "get_ticket"), { results: 10, flagged: 2, rule_flagged: 0 });
  assert.deepEqual(sources.routineRequest("desk", "get_ticket", "issue_refund"), {
    source: "get_ticket",
    tool: "issue_refund",
    results: 10,
    flagged: 2,
    rule_flagged: 0,
    follow_sessions: 3,
  });
  assert.equal(sources.routineSource("other-agent", "get_ticket"), null, "learned per agent type");
  assert.equal(sources.routineSource("desk", "issue_refund"), null, "a tool whose results were never flagged");

  const rare = new RequestSources();
  teach(rare, { results: 20, flagged: 3, follows: 20 });
  assert.equal(rare.routineSource("desk", "get_ticket"), null, "3 of 20 is under a fifth");

  // Results with cue phrases mean the baseline held attacks: learning them as requests would teach the attack.
  const attacked = new RequestSources();
  teach(attacked, { results: 100, flagged: 40, rules: 2, follows: 20 });
  assert.equal(attacked.routineSource("desk", "get_ticket"), null, "2 of 100 baseline results carried a rule signal");
  const noisy = new RequestSources();
  teach(noisy, { results: 100, flagged: 40, rules: 1, follows: 20 });
  assert.ok(noisy.routineSource("desk", "get_ticket"), "one in a hundred is tolerated");

  const few = new RequestSources();
  teach(few, { results: 9, flagged: 9, follows: 9 });
  assert.equal(few.routineSource("desk", "get_ticket"), null, "nine results say nothing yet");
});

test("a tool follows a source only when called after its result, counted once per session, in three sessions", () => {
  const sources = new RequestSources();
  teach(sources, { results: 10, flagged: 5, follows: 2 });
  assert.equal(sources.routineRequest("desk", "get_ticket", "issue_refund"), null, "two sessions are not routine");
  // Called before the ticket was read, the refund does not follow it; called twice after, it counts once.
  sources.learnCall("desk", "before", "issue_refund");
  sources.learnResult("desk", "before", "issue_refund", "clean");
  sources.learnCall("desk", "before", "get_ticket");
  sources.learnResult("desk", "before", "get_ticket", "model");
  assert.equal(sources.routineRequest("desk", "get_ticket", "issue_refund"), null);
  sources.learnCall("desk", "twice", "get_ticket");
  sources.learnResult("desk", "twice", "get_ticket", "model");
  sources.learnCall("desk", "twice", "issue_refund");
  sources.learnCall("desk", "twice", "issue_refund");
  assert.equal(sources.routineRequest("desk", "get_ticket", "issue_refund")?.follow_sessions, 3);
  assert.equal(sources.routineRequest("desk", "get_ticket", "delete_customer"), null, "never followed");
});

test("what was learned is saved, restored and checked; learning keeps at most 4,096 sessions", () => {
  const sources = new RequestSources();
  teach(sources, { results: 12, flagged: 6, follows: 4 });
  teach(sources, { results: 12, flagged: 0, follows: 0, source: "lookup_customer" });
  const saved = JSON.parse(JSON.stringify(sources.save()));
  assert.deepEqual(saved, {
    desk: {
      sources: { get_ticket: { results: 12, flagged: 6, rule_flagged: 0 } },
      follows: { get_ticket: { issue_refund: 4 } },
    },
  });
  const restored = new RequestSources();
  assert.equal(restored.load(saved), null);
  assert.deepEqual(restored.routineRequest("desk", "get_ticket", "issue_refund"), {
    source: "get_ticket",
    tool: "issue_refund",
    results: 12,
    flagged: 6,
    rule_flagged: 0,
    follow_sessions: 4,
  });
  assert.equal(restored.load([]), "request_sources: ✖ Invalid input: expected object, received array");
  assert.equal(
    restored.load({ desk: { sources: { get_ticket: { results: 2, flagged: 3, rule_flagged: 0 } } } }),
    "request_sources: ✖ flagged (3) + rule_flagged (0) is more than results (2)\n  → at desk.sources.get_ticket",
  );
  assert.equal(
    restored.load({ desk: { sources: {}, follows: { get_ticket: { issue_refund: -1 } } } }),
    "request_sources: ✖ Too small: expected number to be >=0\n  → at desk.follows.get_ticket.issue_refund",
  );
  assert.ok(restored.routineSource("desk", "get_ticket"), "a refused state leaves what was loaded");

  const many = new RequestSources();
  for (let index = 0; index < 5000; index++) many.learnResult("desk", `session-${index}`, "get_ticket", "clean");
  assert.equal(many.learningSessions, 4096);
});

test("the flow baseline is version 2 with request sources, and a version 1 file still loads", () => {
  const analysis = new FlowAnalysis();
  for (const session of supportDeskBaseline(40)) for (const record of session.records) analysis.learn(exchange(record));
  const saved = analysis.saveBaseline();
  assert.equal(saved.version, 2);
  const desk = saved.request_sources.support;
  assert.ok(desk, "the desk's tickets are a request source");
  assert.ok(desk.sources.get_ticket!.flagged >= desk.sources.get_ticket!.results * 0.2);
  assert.ok((desk.follows.get_ticket?.send_email ?? 0) >= 3);
  const shown = describeFlowBaseline(saved)?.join("\n") ?? "";
  assert.match(shown, /agent type support: \d+ tools/);
  assert.match(shown, /get_ticket: \d+ of \d+ results read as requests, routine; acted on with .*send_email \(\d+\)/);
  assert.equal(describeFlowBaseline({ version: 3 }), null);
  const restored = new FlowAnalysis();
  assert.equal(restored.loadBaseline(JSON.parse(JSON.stringify(saved))), null);
  assert.deepEqual(restored.saveBaseline(), saved);
  assert.equal(restored.loadBaseline({ version: 1, tools_by_agent: { support: ["get_ticket"] } }), null);
  assert.deepEqual(restored.saveBaseline().request_sources, {}, "version 1 knew no request sources");
  assert.equal(
    restored.loadBaseline({ version: 2, tools_by_agent: {}, request_sources: 7 }),
    "flow baseline: ✖ Invalid input: expected object, received number\n  → at request_sources",
  );
});

test("a malformed request-sources state is refused with the path of the bad field, and nothing of it is loaded", () => {
  const sources = new RequestSources();
  teach(sources, { results: 12, flagged: 6, follows: 4 });
  const saved = sources.save();
  const stats = (change: Record<string, unknown>) => ({
    banking: { sources: { read_file: { results: 4, flagged: 1, rule_flagged: 0, ...change } }, follows: {} },
  });
  const refusals: Array<[unknown, string]> = [
    [
      stats({ flagged: undefined }),
      "✖ Invalid input: expected number, received undefined\n  → at banking.sources.read_file.flagged",
    ],
    [
      stats({ flagged: "1" }),
      "✖ Invalid input: expected number, received string\n  → at banking.sources.read_file.flagged",
    ],
    [
      stats({ rule_flagged: -1 }),
      "✖ Too small: expected number to be >=0\n  → at banking.sources.read_file.rule_flagged",
    ],
    [
      stats({ results: 2.5 }),
      "✖ Invalid input: expected int, received number\n  → at banking.sources.read_file.results",
    ],
    [
      stats({ flagged: 3, rule_flagged: 2 }),
      "✖ flagged (3) + rule_flagged (2) is more than results (4)\n  → at banking.sources.read_file",
    ],
    [{ banking: { follows: {} } }, "✖ Invalid input: expected object, received undefined\n  → at banking.sources"],
    [
      { banking: { sources: {}, follows: [] } },
      "✖ Invalid input: expected object, received array\n  → at banking.follows",
    ],
    [
      { banking: { sources: {}, follows: { read_file: { send_money: "3" } } } },
      "✖ Invalid input: expected number, received string\n  → at banking.follows.read_file.send_money",
    ],
    ["desk", "✖ Invalid input: expected object, received string"],
  ];
  for (const [state, issue] of refusals) {
    assert.equal(sources.load(state), `request_sources: ${issue}`, JSON.stringify(state));
    assert.deepEqual(sources.save(), saved, "a refused state leaves what was loaded");
  }
});

test("a loaded request-sources state keeps the caps of learning, and a tool named __proto__ like any other", () => {
  const state: Record<string, { sources: Record<string, unknown>; follows?: Record<string, Record<string, number>> }> =
    {};
  for (let agent = 0; agent < 300; agent++) state[`agent-${agent}`] = { sources: {} };
  const stats = { results: 10, flagged: 5, rule_flagged: 0 };
  const desk = state["agent-0"]!;
  for (let tool = 0; tool < 600; tool++) desk.sources[`tool-${String(tool).padStart(3, "0")}`] = stats;
  desk.follows = {};
  // 100 sources followed by 50 tools each: 5,000 pairs, more than the 4,096 an agent type keeps.
  for (let source = 0; source < 100; source++) {
    const following: Record<string, number> = {};
    for (let tool = 0; tool < 50; tool++) following[`next-${tool}`] = 3;
    desk.follows[`tool-${String(source).padStart(3, "0")}`] = following;
  }
  const sources = new RequestSources();
  assert.equal(sources.load(state), null);
  const saved = sources.save();
  assert.equal(Object.keys(saved).length, 1, "agent types without a flagged source are not saved");
  assert.equal(Object.keys(saved["agent-0"]!.sources).length, 512);
  const follows = Object.values(saved["agent-0"]!.follows);
  assert.equal(
    follows.reduce((sum, following) => sum + Object.keys(following).length, 0),
    4096,
  );
  assert.equal(Object.keys(saved["agent-0"]!.follows["tool-081"]!).length, 46, "the pair at the cap is the last kept");
  assert.deepEqual(saved["agent-0"]!.follows["tool-099"], {}, "sources past the cap keep no followers");
  const beyond = new RequestSources();
  assert.equal(beyond.load({ ...state, "agent-299": { sources: { get_ticket: stats }, follows: {} } }), null);
  assert.equal(beyond.routineSource("agent-299", "get_ticket"), null, "the 257th agent type is not loaded");

  // JSON.parse makes __proto__ an ordinary key, and save writes a follower of that name.
  const named = new RequestSources();
  const text =
    '{"desk":{"sources":{"get_ticket":{"results":12,"flagged":6,"rule_flagged":0}},"follows":{"get_ticket":{"__proto__":4}}}}';
  assert.equal(named.load(JSON.parse(text)), null);
  assert.equal(named.routineRequest("desk", "get_ticket", "__proto__")?.follow_sessions, 4);
  assert.equal(JSON.stringify(named.save()), text);
  assert.match(
    named.load(JSON.parse('{"desk":{"sources":{},"follows":{"get_ticket":{"__proto__":-4}}}}')) ?? "",
    /→ at desk\.follows\.get_ticket\.__proto__$/,
  );
});

test("a malformed flow baseline is refused with the path of the bad field", () => {
  const analysis = new FlowAnalysis();
  for (const session of supportDeskBaseline(40)) for (const record of session.records) analysis.learn(exchange(record));
  const saved = analysis.saveBaseline();
  const refusals: Array<[unknown, string]> = [
    [{ ...saved, version: 3 }, "✖ Invalid discriminator value. Expected '1' | '2'\n  → at version"],
    [
      { version: 2, request_sources: {} },
      "✖ Invalid input: expected object, received undefined\n  → at tools_by_agent",
    ],
    [
      { ...saved, tools_by_agent: { support: "get_ticket" } },
      "✖ Invalid input: expected array, received string\n  → at tools_by_agent.support",
    ],
    [
      { ...saved, tools_by_agent: { support: ["get_ticket", 7] } },
      "✖ Invalid input: expected string, received number\n  → at tools_by_agent.support[1]",
    ],
    [
      {
        ...saved,
        request_sources: { banking: { sources: { read_file: { results: 4, flagged: -1, rule_flagged: 0 } } } },
      },
      "✖ Too small: expected number to be >=0\n  → at request_sources.banking.sources.read_file.flagged",
    ],
    [[], "✖ Invalid input: expected object, received array"],
  ];
  for (const [state, issue] of refusals) {
    assert.equal(analysis.loadBaseline(state), `flow baseline: ${issue}`, JSON.stringify(state).slice(0, 200));
    assert.deepEqual(analysis.saveBaseline(), saved, "a refused baseline leaves what was learned");
  }
  assert.equal(describeFlowBaseline({ ...saved, version: 3 }), null);
  // Version 1 had no request sources: whatever a file carries under that name is not read.
  assert.equal(
    analysis.loadBaseline({ version: 1, tools_by_agent: { support: ["get_ticket"] }, request_sources: 7 }),
    null,
  );
  assert.deepEqual(analysis.saveBaseline(), {
    version: 2,
    tools_by_agent: { support: ["get_ticket"] },
    request_sources: {},
  });
});

function exchange(record: unknown): CapturedExchange {
  assert.ok(isCapturedExchange(record), "the generator writes capture records");
  return record;
}

/** Replays the sessions through the default detectors after `learn`; the highest severity per session. */
async function score(
  test: SupportSession[],
  prepare: (pipeline: Pipeline) => Promise<void> | void,
  detectors = defaultDetectors(),
): Promise<{ findings: Finding[]; worst: Map<string, string> }> {
  const findings: Finding[] = [];
  const pipeline = new Pipeline({ store: null, detectors, findingSinks: [(finding) => findings.push(finding)] });
  await prepare(pipeline);
  for (const session of test) for (const record of session.records) pipeline.process(exchange(record));
  await pipeline.finish();
  const order = ["info", "low", "medium", "high", "critical"];
  const worst = new Map<string, string>();
  for (const finding of findings) {
    const known = worst.get(finding.session);
    if (known === undefined || order.indexOf(finding.severity) > order.indexOf(known)) {
      worst.set(finding.session, finding.severity);
    }
  }
  return { findings, worst };
}

const isHigh = (severity: string | undefined) => severity === "high" || severity === "critical";

test("support desk: tickets acted on as routine stay below high; every attack in a ticket stays high", async () => {
  const baseline = supportDeskBaseline(150);
  const sessions = supportDeskTest(120, 5);
  const { findings, worst } = await score(sessions, (pipeline) => {
    for (const session of baseline) for (const record of session.records) pipeline.learn(exchange(record));
    pipeline.finishLearning();
  });
  const benign = sessions.filter((session) => session.kind === "benign");
  const benignHigh = benign.filter((session) => isHigh(worst.get(session.session)));
  assert.deepEqual(
    benignHigh.map((session) => session.session),
    [],
    "no benign desk session is high once the baseline knows tickets are requests",
  );
  for (const kind of SUPPORT_ATTACK_KINDS) {
    const attacks = sessions.filter((session) => session.kind === kind);
    assert.equal(attacks.length, 5);
    for (const attack of attacks) assert.ok(isHigh(worst.get(attack.session)), `${kind} ${attack.session} is high`);
  }
  // The downgraded findings say why: the baseline's share of flagged tickets, and what followed them.
  const routinePoisoning = findings.find((finding) => finding.detector === "poisoning" && finding.severity === "low");
  assert.ok(routinePoisoning, "a flagged ticket is still recorded, at low");
  assert.match(
    routinePoisoning.message,
    /routine for this agent type: its baseline read \d+ of \d+ results of get_ticket/,
  );
  assert.equal((routinePoisoning.evidence.routine_source as { tool: string }).tool, "get_ticket");
  const routineFlow = findings.find(
    (finding) => finding.detector === "privilege_escalation" && finding.evidence.routine_request !== undefined,
  );
  assert.ok(routineFlow, "acting on a ticket is recorded for the investigation");
  assert.equal(routineFlow.severity, "low");
  // A cue phrase is injection craft, not a customer's request: the ticket itself stays high.
  const override = sessions.find((session) => session.kind === "override_phrase")!;
  assert.ok(
    findings.some(
      (finding) =>
        finding.session === override.session && finding.detector === "poisoning" && finding.severity === "high",
    ),
  );
  // An outsider's address for the customer's records, and a tool the desk never uses after tickets, stay high.
  const thirdParty = sessions.find((session) => session.kind === "records_to_third_party")!;
  assert.ok(
    findings.some(
      (finding) =>
        finding.session === thirdParty.session &&
        finding.detector === "privilege_escalation" &&
        finding.severity === "high",
    ),
  );
  const rights = sessions.find((session) => session.kind === "grant_rights")!;
  assert.ok(
    findings.some(
      (finding) =>
        finding.session === rights.session && finding.tool === "update_customer_role" && finding.severity === "high",
    ),
  );
});

test("a ticket the guard flagged without the baseline is low and says why once the detectors know tickets are routine", async () => {
  const baseline = supportDeskBaseline(150);
  const benign = supportDeskTest(20, 0).filter((session) => session.kind === "benign");
  // As a guard without a baseline records it: the model alone read the ticket as a request, and it was forwarded.
  const decided = (record: unknown): CapturedExchange => {
    const captured = exchange(record);
    if (captured.method !== "tools/call" || captured.tool !== "get_ticket") return captured;
    return {
      ...captured,
      decisions: [
        {
          stage: "poisoning",
          action: "alert",
          rule: "instruction_request",
          reason: "instruction to the model (0.900)",
          direction: "result",
        },
      ],
    };
  };
  const findings: Finding[] = [];
  const pipeline = new Pipeline({
    store: null,
    detectors: defaultDetectors(),
    findingSinks: [(finding) => findings.push(finding)],
  });
  for (const session of baseline) for (const record of session.records) pipeline.learn(exchange(record));
  pipeline.finishLearning();
  for (const session of benign) for (const record of session.records) pipeline.process(decided(record));
  await pipeline.finish();
  const tickets = findings.filter((finding) => finding.detector === "poisoning" && finding.tool === "get_ticket");
  assert.ok(tickets.length >= benign.length, "every decided ticket is recorded");
  for (const finding of tickets) {
    assert.equal(finding.severity, "low");
    assert.equal(finding.evidence.verdict_from, "inline_decision");
    assert.match(
      finding.message,
      /\(inline defence: alert\): instruction to the model \(0\.900\); routine for this agent type: its baseline read \d+ of \d+ results of get_ticket as requests$/,
    );
    assert.equal((finding.evidence.routine_source as { tool: string }).tool, "get_ticket");
  }
});

test("support desk: without a baseline the same tickets raise high findings, and a saved baseline scores as learned", async () => {
  const sessions = supportDeskTest(40, 1, 7);
  const unlearned = await score(sessions, () => {});
  const benign = sessions.filter((session) => session.kind === "benign");
  const high = benign.filter((session) => isHigh(unlearned.worst.get(session.session))).length;
  assert.ok(high >= benign.length / 4, `${high} of ${benign.length} benign sessions are high without a baseline`);

  const baseline = supportDeskBaseline(150);
  const learned = await score(sessions, (pipeline) => {
    for (const session of baseline) for (const record of session.records) pipeline.learn(exchange(record));
    pipeline.finishLearning();
  });
  const file = await trainBaseline(
    {
      files: ["support-desk"],
      batches: (async function* () {
        yield baseline.flatMap((session) => session.records.map(exchange));
      })(),
    },
    defaultDetectors(),
    { created: "2026-11-22T00:00:00.000Z" },
  );
  const detectors = defaultDetectors();
  const restored = await score(
    sessions,
    () => {
      const loaded = loadBaselineInto(JSON.parse(JSON.stringify(file)), detectors);
      assert.ok(loaded.ok, loaded.ok ? "" : loaded.message);
    },
    detectors,
  );
  const severities = (findings: Finding[]) =>
    findings
      .filter((finding) => ["poisoning", "privilege_escalation", "behaviour_change"].includes(finding.detector))
      .map((finding) => `${finding.session} ${finding.detector} ${finding.severity} ${finding.call_index}`);
  assert.deepEqual(severities(restored.findings), severities(learned.findings));
});
