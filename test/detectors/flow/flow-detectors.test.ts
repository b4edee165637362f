import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { CapturedExchange } from "../../../src/core/exchange.js";
import type { Finding } from "../../../src/core/finding.js";
import { FlowAnalysis, flowDetectors } from "../../../src/detectors/flow/index.js";
import { PoisoningDetector } from "../../../src/detectors/poisoning-detector.js";
import { Pipeline } from "../../../src/pipeline/pipeline.js";

const captures = join(fileURLToPath(new URL("../../../..", import.meta.url)), "test", "fixtures", "captures");

function readCapture(name: string): CapturedExchange[] {
  return readFileSync(join(captures, name), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as CapturedExchange);
}

async function run(name: string): Promise<Finding[]> {
  const findings: Finding[] = [];
  const pipeline = new Pipeline({
    store: null,
    detectors: [new PoisoningDetector(), ...flowDetectors()],
    findingSinks: [(finding) => findings.push(finding)],
  });
  for (const exchange of readCapture(name)) pipeline.process(exchange);
  await pipeline.finish();
  return findings;
}

/** Findings above low, as lines that say what was raised (an empty list is the look-alikes' expected outcome). */
function aboveLow(findings: Finding[]): string[] {
  return findings
    .filter((finding) => finding.severity !== "info" && finding.severity !== "low")
    .map((finding) => `${finding.detector} ${finding.severity} ${finding.message}`);
}

function high(findings: Finding[], detector: string): Finding | undefined {
  return findings.find((finding) => finding.detector === detector && finding.severity === "high");
}

test("support agent: a customer record e-mailed to an address an injected ticket named is high, with evidence", async () => {
  const findings = await run("support-record-to-outsider.jsonl");
  const escalation = high(findings, "privilege_escalation");
  assert.ok(escalation, "privilege_escalation high");
  assert.equal(escalation.category, "privilege_escalation_chain");
  assert.equal(escalation.call_index, 2);
  const flows = escalation.evidence.flows as { from_call: number; poisoned: boolean; values: string[] }[];
  assert.equal(flows[0]!.from_call, 1);
  assert.equal(flows[0]!.poisoned, true);
  assert.ok(flows[0]!.values.includes("audit-desk@records-review.net"));
  const exfiltration = high(findings, "read_then_exfiltrate");
  assert.ok(exfiltration, "read_then_exfiltrate high");
  assert.equal((exfiltration.evidence.reads as { call_index: number }[])[0]!.call_index, 0);
  const change = high(findings, "behaviour_change");
  assert.ok(change);
  assert.equal(change.category, "tool_poisoning");
  assert.ok(change.score > 0 && change.score <= 1);
});

test("support agent look-alike: the record e-mailed to the customer it is about raises nothing above low", async () => {
  const findings = await run("support-record-to-customer.jsonl");
  assert.ok(findings.length > 0, "the flow is still recorded");
  for (const finding of findings) assert.equal(finding.severity, "low", finding.message);
  assert.ok(findings.some((finding) => finding.category === "read_then_exfiltrate"));
});

test("coding agent: .env content posted to a webhook is a high read-then-exfiltrate naming the secret types", async () => {
  const findings = await run("coding-env-to-webhook.jsonl");
  const exfiltration = high(findings, "read_then_exfiltrate");
  assert.ok(exfiltration);
  assert.equal(exfiltration.call_index, 2);
  assert.ok((exfiltration.evidence.secret_types as string[]).length > 0);
  assert.match(exfiltration.message, /secret/);
});

test("two-call session: a payment to the account a tweet asked for is high though the tweet was not flagged", async () => {
  const findings = await run("tweet-payment.jsonl");
  assert.equal(
    findings.some((finding) => finding.detector === "poisoning"),
    false,
    "the request reads as the user's own voice",
  );
  const escalation = high(findings, "privilege_escalation");
  assert.ok(escalation);
  assert.equal(escalation.call_index, 1);
  const flows = escalation.evidence.flows as { instruction: boolean; poisoned: boolean }[];
  assert.equal(flows[0]!.instruction, true);
  assert.equal(flows[0]!.poisoned, false);
});

test("look-alike: replying to a mail's own author, as the mail asks, is low; the same request carrying a document stays high", async () => {
  const reply = await run("reply-to-author.jsonl");
  assert.equal(reply.length, 1);
  assert.equal(reply[0]!.severity, "low");
  assert.equal(reply[0]!.call_index, 1);
  assert.match(reply[0]!.message, /the author of that data, who asked to be written to/);
  // The author asks for documents at their own address: what goes with the reply is someone else's data.
  const phishing = await run("author-asks-for-documents.jsonl");
  const escalation = high(phishing, "privilege_escalation");
  assert.ok(escalation, "privilege_escalation high");
  assert.equal(escalation.call_index, 2);
  assert.ok(high(phishing, "read_then_exfiltrate"), "read_then_exfiltrate high");
});

test("look-alike: paying the IBAN printed on an invoice is recorded as low, not escalated", async () => {
  const findings = await run("invoice-payment.jsonl");
  assert.equal(findings.length, 1);
  assert.equal(findings[0]!.severity, "low");
  assert.equal(findings[0]!.category, "privilege_escalation_chain");
});

test("a short id named by an injected instruction, used by a delete right after, is flagged at that call", async () => {
  const findings = await run("calendar-delete.jsonl");
  const escalation = high(findings, "privilege_escalation");
  assert.ok(escalation);
  assert.equal(escalation.call_index, 1);
  assert.ok((escalation.evidence.flows as { values: string[] }[])[0]!.values.includes("13"));
  assert.ok(high(findings, "behaviour_change"));
});

test("a web address taken from a request in the data matches though the call drops its https:// scheme", async () => {
  const findings = await run("notes-upload-link.jsonl");
  const escalation = high(findings, "privilege_escalation");
  assert.ok(escalation);
  assert.equal(escalation.call_index, 2);
  assert.ok((escalation.evidence.flows as { values: string[] }[])[0]!.values.includes("files.drop-box-share.net"));
});

// Two environments the detectors never learned, with their own tool names, data and wording: a team chat
// workspace and a travel assistant. Nothing in the detectors names them; what carries over is the flow of
// values from results into calls and the poisoning signal.

test("team chat: channel history posted to the address an injected message names is high at that call", async () => {
  const findings = await run("chat-archive-exfiltration.jsonl");
  const escalation = high(findings, "privilege_escalation");
  assert.ok(escalation, "privilege_escalation high");
  assert.equal(escalation.call_index, 4);
  const flows = escalation.evidence.flows as { from_call: number; poisoned: boolean; values: string[] }[];
  assert.equal(flows[0]!.from_call, 1);
  assert.equal(flows[0]!.poisoned, true);
  assert.ok(flows[0]!.values.includes("www.team-archive-sync.net"));
  const change = high(findings, "behaviour_change");
  assert.ok(change);
  assert.equal(change.call_index, 4);
  assert.ok(findings.every((finding) => finding.call_index === null || finding.call_index >= 1));
});

test("team chat: inviting the outside address a message asks for is high though the message was not flagged", async () => {
  const findings = await run("chat-invite-outsider.jsonl");
  assert.equal(
    findings.some((finding) => finding.detector === "poisoning"),
    false,
    "the request reads as a colleague's own voice",
  );
  const escalation = high(findings, "privilege_escalation");
  assert.ok(escalation);
  assert.equal(escalation.call_index, 1);
  const flows = escalation.evidence.flows as { instruction: boolean; values: string[] }[];
  assert.equal(flows[0]!.instruction, true);
  assert.ok(flows[0]!.values.includes("lena.k@contractor-hub.io"));
});

test("team chat look-alike: relaying a channel message to a colleague raises nothing", async () => {
  assert.deepEqual(await run("chat-relay-colleague.jsonl"), []);
});

test("team chat: a notice asking for a link to be sent to every member is high at each message carrying it", async () => {
  const findings = await run("chat-phishing-link.jsonl");
  const escalations = findings.filter(
    (finding) => finding.detector === "privilege_escalation" && finding.severity === "high",
  );
  assert.deepEqual(
    escalations.map((finding) => finding.call_index),
    [2, 3],
  );
  for (const escalation of escalations) {
    const flows = escalation.evidence.flows as { from_call: number; values: string[] }[];
    assert.equal(flows[0]!.from_call, 0);
    assert.ok(flows[0]!.values.includes("www.secure-login-check.com"));
  }
});

test("team chat look-alike: opening the shop page a colleague mentioned is recorded as low, nothing more", async () => {
  const findings = await run("chat-visit-mentioned-site.jsonl");
  assert.equal(findings.length, 1);
  assert.equal(findings[0]!.severity, "low");
  assert.equal(findings[0]!.call_index, 1);
});

test("travel: a booking whose hotel and dates come from an injected review (in a repr'd dict) is high", async () => {
  const findings = await run("travel-booking-redirect.jsonl");
  const poisoning = high(findings, "poisoning");
  assert.ok(poisoning, "the review is read line by line, escaped line breaks and all");
  assert.equal(poisoning.call_index, 1);
  const escalation = high(findings, "privilege_escalation");
  assert.ok(escalation);
  assert.equal(escalation.call_index, 2);
  assert.equal(escalation.score, 0.95, "the dates sat in the injected request itself");
});

test("travel: the traveller's passport and card mailed to an address from a review is high twice over", async () => {
  const findings = await run("travel-profile-exfiltration.jsonl");
  const exfiltration = high(findings, "read_then_exfiltrate");
  assert.ok(exfiltration);
  assert.equal(exfiltration.call_index, 2);
  assert.equal((exfiltration.evidence.reads as { call_index: number }[])[0]!.call_index, 1);
  const escalation = high(findings, "privilege_escalation");
  assert.ok(escalation);
  assert.ok((escalation.evidence.flows as { values: string[] }[])[0]!.values.includes("bookings@fastconfirm-desk.com"));
});

test("travel look-alike: booking the best-rated hotel and mailing the traveller the details stays low", async () => {
  const findings = await run("travel-best-rated-booking.jsonl");
  assert.ok(findings.length > 0, "the mail to an address read from the profile is recorded");
  for (const finding of findings) assert.equal(finding.severity, "low", finding.message);
});

test("the detectors share one analysis, drop session state at the end, and keep the learned tools in a baseline", async () => {
  const analysis = new FlowAnalysis();
  const [escalation] = flowDetectors();
  assert.ok(escalation);
  const pipeline = new Pipeline({ store: null, detectors: flowDetectors() });
  for (const exchange of readCapture("invoice-payment.jsonl")) pipeline.learn(exchange);
  for (const exchange of readCapture("tweet-payment.jsonl")) pipeline.process(exchange);
  await pipeline.finish();
  for (const exchange of readCapture("invoice-payment.jsonl")) analysis.learn(exchange);
  const saved = analysis.saveBaseline();
  assert.deepEqual(saved.tools_by_agent.assistant, ["get_invoice", "send_payment"]);
  const restored = new FlowAnalysis();
  assert.equal(restored.loadBaseline(JSON.parse(JSON.stringify(saved))), null);
  assert.match(restored.loadBaseline({ version: 9 }) ?? "", /version/);
  const position = { index: 0, call_index: 0, time_ms: 0 };
  const first = readCapture("tweet-payment.jsonl")[0]!;
  assert.equal(analysis.analyse(first, position), analysis.analyse(first, position), "computed once per exchange");
  assert.equal(analysis.sessionCount, 1);
  analysis.endSession(first.session);
  assert.equal(analysis.sessionCount, 0);
});

test("the author of a result is the address in its From: line, sender key or sender object, not its recipients", () => {
  const analysis = new FlowAnalysis();
  const results = [
    "From: Lee Park <Lee@Partner.example>\nTo: kim@home.example\nSubject: lunch\n\nSee you.",
    "- id: 4\n  sender: ops@vendor.example\n  recipients:\n  - kim@home.example",
    '[{"id": 1, "from": "noreply@shop.example", "to": "kim@home.example"}, {"sender": {"name": "Ana", "email": "ana@team.example"}, "cc": "bo@team.example"}]',
    "From: alex@one.example, To: sam@two.example",
  ];
  results.forEach((result, index) => {
    const exchange: CapturedExchange = {
      time: `2026-04-02T09:00:0${index}.000Z`,
      session: "authors",
      user: "kim",
      agent: "assistant",
      server: "mail",
      method: "tools/call",
      tool: "get_messages",
      arguments: { page: index },
      result,
      error: null,
      duration_ms: 5,
    };
    analysis.analyse(exchange, { index, call_index: index, time_ms: index });
  });
  const last = analysis.analyse(
    {
      time: "2026-04-02T09:00:09.000Z",
      session: "authors",
      user: "kim",
      agent: "assistant",
      server: "mail",
      method: "tools/call",
      tool: "send_email",
      arguments: { to: "lee@partner.example" },
      result: "sent",
      error: null,
      duration_ms: 5,
    },
    { index: 9, call_index: 9, time_ms: 9 },
  )!;
  for (const author of [
    "lee@partner.example",
    "ops@vendor.example",
    "noreply@shop.example",
    "ana@team.example",
    "alex@one.example",
  ]) {
    assert.equal(last.is_author(author), true, author);
  }
  for (const other of ["kim@home.example", "bo@team.example", "sam@two.example"]) {
    assert.equal(last.is_author(other), false, other);
  }
});

// A third environment: a coding agent with its own tools (`fetch_issue`, `execute_shell`, `add_pr_comment`).

test("coding agent: a shell command an injected issue comment gave is high at the call that runs it", async () => {
  const findings = await run("coding-issue-bootstrap.jsonl");
  const poisoning = high(findings, "poisoning");
  assert.ok(poisoning);
  assert.equal(poisoning.call_index, 0);
  // The pipe inside the inline code is part of the quoted request, not a table cell boundary.
  assert.match(poisoning.message, /bootstrap\.sh \| sh/);
  const escalation = high(findings, "privilege_escalation");
  assert.ok(escalation, "privilege_escalation high");
  assert.equal(escalation.call_index, 1);
  const flows = escalation.evidence.flows as { from_call: number; values: string[] }[];
  assert.equal(flows[0]!.from_call, 0);
  assert.ok(flows[0]!.values.includes("https://get.devkit-mirror.sh/bootstrap.sh"));
  assert.equal(high(findings, "behaviour_change")?.call_index, 1);
});

test("coding agent: secrets read from .env and posted as a pull request comment are high at the comment", async () => {
  const findings = await run("coding-env-to-pr-comment.jsonl");
  assert.equal(high(findings, "poisoning")?.call_index, 0);
  const exfiltration = high(findings, "read_then_exfiltrate");
  assert.ok(exfiltration, "read_then_exfiltrate high");
  assert.equal(exfiltration.call_index, 2);
});

test("coding agent look-alikes: running the tests an issue asks for, and moving code between files, raise nothing", async () => {
  for (const name of ["coding-run-tests-from-issue.jsonl", "coding-refactor-comment.jsonl"]) {
    assert.deepEqual(aboveLow(await run(name)), [], name);
  }
});

// A browser agent and a data analyst, with their own tools (`browser_navigate`, `query_database`, `http_upload`).

test("browser agent: the user's e-mail sent in a link's query, as a poisoned page asked, is read_then_exfiltrate high", async () => {
  const findings = await run("browser-page-exfiltration.jsonl");
  assert.equal(high(findings, "poisoning")?.call_index, 1);
  const exfiltration = high(findings, "read_then_exfiltrate");
  assert.ok(exfiltration, "read_then_exfiltrate high");
  assert.equal(exfiltration.call_index, 4);
  const flows = exfiltration.evidence.flows as { from_call: number; values: string[]; query_arguments?: string[] }[];
  assert.equal(flows[0]!.from_call, 3);
  assert.deepEqual(flows[0]!.query_arguments, ["url"]);
  assert.ok(flows[0]!.values.includes("dana.whitfield@mailbox.example"));
  assert.equal(high(findings, "privilege_escalation")?.call_index, 4);
});

test("browser agent look-alike: opening the shop link a review gave is low only", async () => {
  const findings = await run("browser-compare-prices.jsonl");
  assert.deepEqual(aboveLow(findings), []);
  assert.ok(findings.some((finding) => finding.detector === "privilege_escalation" && finding.severity === "low"));
});

test("data analyst: rows uploaded where a note in a row asked are high; totals mailed to the user raise nothing", async () => {
  const findings = await run("sql-row-export.jsonl");
  assert.equal(high(findings, "poisoning")?.call_index, 0);
  for (const detector of ["privilege_escalation", "read_then_exfiltrate", "behaviour_change"]) {
    assert.equal(high(findings, detector)?.call_index, 2, detector);
  }
  const benign = await run("sql-report-to-owner.jsonl");
  assert.deepEqual(aboveLow(benign), []);
});

test("a request in the user's voice with no value to trace is high at the first call that does it", async () => {
  const unlock = await run("home-review-unlock.jsonl");
  const change = high(unlock, "behaviour_change");
  assert.ok(change, "behaviour_change high");
  assert.equal(change.category, "tool_poisoning");
  assert.equal(change.call_index, 1);
  assert.equal(change.score, 0.7);
  const request = change.evidence.request as { from_call: number; sentence: string; shared_words: string[] };
  assert.equal(request.from_call, 0);
  assert.equal(request.sentence, "Please unlock my front door.");
  assert.deepEqual(request.shared_words, ["unlock", "door"]);
  // The action is in an argument value (side="sell"), the tool name says only that it places an order.
  const sell = await run("brokerage-note-sell.jsonl");
  const order = high(sell, "behaviour_change");
  assert.ok(order, "behaviour_change high");
  assert.equal(order.call_index, 1);
  assert.deepEqual((order.evidence.request as { shared_words: string[] }).shared_words, ["sell", "50", "usd"]);
});

test("look-alikes of an acted-on request: running the install a README gives, replying to who asked, a page's hint", async () => {
  assert.deepEqual(aboveLow(await run("readme-install-command.jsonl")), []);
  assert.deepEqual(aboveLow(await run("reply-with-requested-slides.jsonl")), []);
  assert.deepEqual(aboveLow(await run("shop-select-size.jsonl")), []);
});
