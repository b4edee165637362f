/**
 * `toolwatch serve` with a learned baseline, end to end: one agent type's traffic to the real server-everything is
 * captured, `toolwatch baseline train` learns it, and the gateway CLI started with `detectors.baseline` scores new
 * sessions by it and keeps the findings in its SQLite store. A baseline file it cannot use stops it with the reason.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import type { Finding } from "../../src/core/finding.js";
import { MIN_BASELINE_SESSIONS } from "../../src/detectors/baseline/baseline-finding.js";
import { parseBaselineFile } from "../../src/runtime/baseline-file.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { LineReader, paths } from "../capture/proxy-harness.js";
import { connectClient, startRemoteEverything, startTestGateway } from "./helpers.js";

const run = promisify(execFile);

const KEY = "builds-agent-key-0123456789";
const AGENT = "builds";
/** As few as the models score an agent type from: the test learns only what it needs. */
const TRAINING_SESSIONS = MIN_BASELINE_SESSIONS;
const BASELINE_CATEGORIES = new Set(["sequence_anomaly", "argument_anomaly", "temporal_anomaly", "resource_anomaly"]);

interface Call {
  name: string;
  arguments: Record<string, unknown>;
}

/** The agent's routine: report on a build, add up its counts. */
const routine = (index: number): Call[] => [
  { name: "echo", arguments: { message: `build ${index} passed all of its checks` } },
  { name: "get-sum", arguments: { a: index, b: 1 } },
];

/** What only a learned baseline can see: a tool the agent type never called, and an encoding where it writes prose. */
const departures = {
  newTool: [...routine(TRAINING_SESSIONS), { name: "get-tiny-image", arguments: {} }],
  encoded: routine(TRAINING_SESSIONS + 1).map((call) =>
    call.name === "echo"
      ? { ...call, arguments: { message: Buffer.from("every line of the private notes, as read").toString("base64") } }
      : call,
  ),
};

let workspace: string;
let remote: Awaited<ReturnType<typeof startRemoteEverything>>;
let baselineFile: string;

/**
 * The gateway configuration every test uses, one API key naming the agent type. `toolwatch serve` reads it as
 * YAML, of which JSON is a subset.
 */
function gatewayConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    gateway: { api_keys: [{ key: KEY, user: "ana", agent: AGENT }] },
    servers: { everything: { url: remote.url } },
    ...extra,
  };
}

function writeConfig(name: string, extra: Record<string, unknown>): string {
  const file = join(workspace, `${name}.yaml`);
  writeFileSync(file, JSON.stringify(gatewayConfig(extra)));
  return file;
}

/** Plays `calls` in one session and ends it (DELETE), so that session-end scoring runs; the gateway's session id. */
async function play(url: string, calls: readonly Call[]): Promise<string> {
  const { client, transport } = await connectClient(url, { authorization: `Bearer ${KEY}` });
  for (const call of calls) {
    const result = await client.callTool(call);
    assert.notEqual(result.isError, true, `${call.name} answered`);
  }
  const session = transport.sessionId;
  assert.ok(session !== undefined, "the gateway gave the session an id");
  await transport.terminateSession();
  await client.close();
  return session;
}

const fromBaseline = (findings: readonly Finding[]) =>
  findings.filter((finding) => BASELINE_CATEGORIES.has(finding.category));

before(async () => {
  workspace = mkdtempSync(join(tmpdir(), "toolwatch-gateway-baseline-"));
  remote = await startRemoteEverything();
  // Known-normal traffic, recorded by a gateway like any other and exported as `toolwatch events --json` writes it.
  const recorder = await startTestGateway(gatewayConfig());
  const indexes = Array.from({ length: TRAINING_SESSIONS }, (_, index) => index);
  await Promise.all(indexes.map((index) => play(recorder.route("everything"), routine(index))));
  await recorder.close();
  const capture = join(workspace, "capture.jsonl");
  writeFileSync(capture, (await recorder.records()).map((record) => `${JSON.stringify(record)}\n`).join(""));
  baselineFile = join(workspace, "baseline.json");
  await run(process.execPath, [paths.cli, "baseline", "train", capture, "-o", baselineFile]);
});

after(async () => {
  await remote.close();
  rmSync(workspace, { recursive: true, force: true });
});

test("the trained file holds the agent type's baseline, learned from every session of the capture", () => {
  const parsed = parseBaselineFile(readFileSync(baselineFile, "utf8"));
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.message);
  assert.equal(parsed.value.trained_on.sessions, TRAINING_SESSIONS);
  assert.deepEqual(parsed.value.trained_on.agents, [AGENT]);
  assert.ok(Object.hasOwn(parsed.value.detectors, "baseline_sequence"));
  assert.ok(Object.hasOwn(parsed.value.detectors, "baseline_arguments"));
});

test("serve with the baseline flags a new tool and an encoded argument, and lets the routine be", async () => {
  const database = join(workspace, "serve.db");
  const config = writeConfig("serve", { database, detectors: { baseline: baselineFile } });
  const child = spawn(process.execPath, [paths.cli, "serve", "--config", config, "--port", "0"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const stderr = new LineReader(child.stderr);
  const exited = once(child, "exit");
  const played = { routine: "", newTool: "", encoded: "" };
  try {
    const listening = await Promise.race([
      stderr.wait((line) => line.includes("gateway listening on ")),
      exited.then(() => null),
    ]);
    assert.ok(listening !== null, `serve exited before listening:\n${stderr.lines.join("\n")}`);
    const url = `${listening.toString("utf8").replace(/^.*gateway listening on /, "")}/mcp/everything`;
    played.routine = await play(url, routine(3));
    played.newTool = await play(url, departures.newTool);
    played.encoded = await play(url, departures.encoded);
  } finally {
    child.kill("SIGTERM");
  }
  const [code] = await exited;
  assert.equal(code, 0, stderr.lines.join("\n"));
  // The operator is told which baseline scores the traffic, what it was trained on and who took it.
  const announced = stderr.lines.map((line) => line.toString("utf8")).find((line) => line.includes(baselineFile));
  assert.match(
    announced ?? "",
    new RegExp(
      `^toolwatch: baseline .* \\(created .*, ${TRAINING_SESSIONS} sessions, agent types ${AGENT}\\) loaded into `,
    ),
  );
  assert.match(announced ?? "", /baseline_sequence/);
  assert.match(announced ?? "", /baseline_arguments/);

  const store = new SqliteStore(database, { readonly: true });
  try {
    const calls = store.exchangesSync({ session: played.routine }).filter((s) => s.exchange.method === "tools/call");
    assert.deepEqual(
      calls.map((stored) => stored.exchange.tool),
      ["echo", "get-sum"],
      "the routine session was recorded",
    );
    assert.deepEqual(fromBaseline(store.findingsSync({ session: played.routine })), []);

    const newTool = fromBaseline(store.findingsSync({ session: played.newTool }));
    assert.equal(newTool.length, 1, JSON.stringify(newTool));
    assert.equal(newTool[0]?.detector, "baseline_sequence");
    assert.equal(newTool[0]?.category, "sequence_anomaly");
    assert.equal(newTool[0]?.severity, "medium");
    assert.equal(newTool[0]?.tool, "get-tiny-image");
    assert.equal(newTool[0]?.agent, AGENT);
    assert.equal(newTool[0]?.evidence.kind, "unseen_tool");
    assert.deepEqual(newTool[0]?.evidence.baseline, {
      agent: AGENT,
      sessions: TRAINING_SESSIONS,
      tools: ["echo", "get-sum"],
    });

    const encoded = fromBaseline(store.findingsSync({ session: played.encoded }));
    assert.equal(encoded.length, 1, JSON.stringify(encoded));
    assert.equal(encoded[0]?.detector, "baseline_arguments");
    assert.equal(encoded[0]?.category, "argument_anomaly");
    assert.equal(encoded[0]?.severity, "medium", "an encoding where text belongs");
    assert.equal(encoded[0]?.tool, "echo");
    assert.equal(encoded[0]?.evidence.kind, "content_class");
    assert.equal(encoded[0]?.evidence.content_class, "base64");
  } finally {
    store.close();
  }
});

test("without the baseline the same departures go unseen: only the loaded file knows the routine", async () => {
  const gateway = await startTestGateway(gatewayConfig());
  const url = gateway.route("everything");
  const newTool = await play(url, departures.newTool);
  const encoded = await play(url, departures.encoded);
  await gateway.close();
  const tools = (await gateway.records()).filter((r) => r.method === "tools/call").map((r) => r.tool);
  assert.deepEqual(tools, ["echo", "get-sum", "get-tiny-image", "echo", "get-sum"], "both sessions were played");
  assert.deepEqual(fromBaseline(await gateway.store.findings({ session: newTool })), []);
  assert.deepEqual(fromBaseline(await gateway.store.findings({ session: encoded })), []);
});

test("serve refuses to start on a baseline file it cannot use, naming the file and why, and exits", async () => {
  const trained = readFileSync(baselineFile, "utf8");
  const corrupt = join(workspace, "corrupt.json");
  writeFileSync(corrupt, trained.slice(0, trained.length / 2));
  const refused = join(workspace, "refused.json");
  const saved = JSON.parse(trained) as { detectors: Record<string, unknown> };
  saved.detectors.baseline_sequence = { version: 99 };
  writeFileSync(refused, JSON.stringify(saved));
  const cases = [
    { file: join(workspace, "missing.json"), reason: /cannot read \(ENOENT/ },
    { file: corrupt, reason: /not JSON/ },
    { file: refused, reason: /baseline not loaded: baseline_sequence: / },
  ];
  await Promise.all(
    cases.map(async ({ file, reason }, index) => {
      const config = writeConfig(`refused-${index}`, {
        database: join(workspace, `refused-${index}.db`),
        detectors: { baseline: file },
      });
      const outcome = await run(process.execPath, [paths.cli, "serve", "--config", config, "--port", "0"], {
        timeout: 10_000,
      }).then(
        () => assert.fail(`serve started on ${file}`),
        (error: { code?: number; killed?: boolean; stderr?: string }) => error,
      );
      assert.equal(outcome.killed, false, `serve stopped by itself on ${file}: ${outcome.stderr}`);
      assert.equal(outcome.code, 1);
      const message = outcome.stderr?.split("\n").find((line) => line.includes(file)) ?? "";
      assert.match(message, /^toolwatch: /);
      assert.match(message, reason);
      assert.doesNotMatch(outcome.stderr ?? "", /gateway listening/);
    }),
  );
});
