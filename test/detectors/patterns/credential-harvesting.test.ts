import assert from "node:assert/strict";
import { test } from "node:test";
import { argumentStrings } from "../../../src/detectors/patterns/call-traits.js";
import { CredentialHarvestingDetector, credentialSources } from "../../../src/detectors/patterns/index.js";
import { call, replayFindings, run } from "./pattern-captures.js";

function kinds(tool: string, argumentsValue: Record<string, unknown>): string[] {
  return credentialSources(tool, argumentStrings(argumentsValue)).map((source) => source.kind);
}

test("credential sources are read from paths, commands and tool names, whatever the tools are called", () => {
  assert.deepEqual(kinds("read_file", { path: "/srv/app/.env.production" }), ["dotenv file"]);
  assert.deepEqual(kinds("fs_read", { file: "C:\\Users\\x\\.aws\\credentials" }), ["cloud credentials file"]);
  assert.deepEqual(kinds("open", { target: "~/.ssh/id_rsa" }), ["ssh key"]);
  assert.deepEqual(kinds("cat", { p: "deploy/tls/server.key" }), ["key file"]);
  assert.deepEqual(kinds("read", { path: "/home/u/.kube/config" }), ["cluster credentials"]);
  assert.deepEqual(kinds("read", { path: ".npmrc" }), ["client credentials file"]);
  assert.deepEqual(kinds("read", { path: "config/secrets.prod.yaml" }), ["secrets file"]);
  assert.deepEqual(kinds("run_command", { command: "printenv" }), ["environment variables"]);
  assert.deepEqual(kinds("exec", { cmd: "env | grep -i key" }), ["environment variables"]);
  assert.deepEqual(kinds("terminal", { input: "security find-generic-password -s github -w" }), ["key store"]);
  assert.deepEqual(kinds("shell", { command: "vault kv get secret/payments" }), ["key store"]);
  assert.deepEqual(kinds("get_secret", { name: "stripe" }), ["key store"]);
  assert.deepEqual(kinds("readEnvironment", {}), ["environment variables"]);
  // Not credential reads: ordinary files, changing a password, prose that mentions .env, a `.envrc`.
  assert.deepEqual(kinds("read_file", { path: "src/environment.ts" }), []);
  assert.deepEqual(kinds("update_password", { password: "n3w-Secret!" }), []);
  assert.deepEqual(kinds("send_email", { body: `Copy .env.example to .env first. ${"More text. ".repeat(60)}` }), []);
  assert.deepEqual(kinds("read_file", { path: ".envrc" }), []);
  assert.deepEqual(kinds("run_command", { command: "npm test" }), []);
});

test("a coding agent harvesting credentials across tools raises a high finding with its sources", async () => {
  const findings = await replayFindings([new CredentialHarvestingDetector()], ["credential-harvesting.jsonl"]);
  assert.deepEqual(
    findings.map((finding) => finding.severity),
    ["medium", "high"],
  );
  const high = findings[1]!;
  assert.equal(high.category, "credential_harvesting");
  assert.equal(high.session, "cred-attack-1");
  const sources = high.evidence.sources as Array<{ kind: string; call_index: number; secrets_returned: string[] }>;
  assert.deepEqual(
    sources.map((source) => source.kind),
    ["dotenv file", "environment variables", "cloud credentials file"],
  );
  assert.deepEqual(high.evidence.call_indexes, [2, 3, 4]);
  assert.ok(sources.every((source) => source.secrets_returned.length > 0));
  assert.match(high.message, /3 distinct credential sources/);
  assert.match(high.message, /3 returned secrets/);
  assert.equal(high.call_index, 4);
});

test("a developer reading one .env, and documentation about credentials, raise nothing", async () => {
  assert.deepEqual(
    await replayFindings([new CredentialHarvestingDetector()], ["credential-harvesting-benign.jsonl"]),
    [],
  );
});

test("without returned secrets it takes four distinct sources for high; sources expire with the window", () => {
  const detector = () => new CredentialHarvestingDetector({ scanner: null, window_ms: 60_000 });
  const reads = ["/a/.env", "/b/.env", "/home/u/.netrc", "/home/u/.ssh/id_ed25519"].map((path) =>
    call("read_file", { path }, { session: "many" }),
  );
  const findings = run(detector(), reads);
  assert.deepEqual(
    findings.map((finding) => [finding.severity, finding.call_index]),
    [
      ["medium", 1],
      ["high", 3],
    ],
  );
  // The same reads ten minutes apart never share the window.
  const spread = ["/a/.env", "/b/.env", "/home/u/.netrc"].map((path, index) =>
    call("read_file", { path }, { session: "slow", time_ms: Date.UTC(2026, 5, 1, 9, index * 10) }),
  );
  assert.deepEqual(run(detector(), spread), []);
  // The same source read again is one source; a failed read harvested nothing.
  const repeated = [
    call("read_file", { path: ".env" }, { session: "again" }),
    call("read_file", { path: ".env" }, { session: "again" }),
  ];
  assert.deepEqual(run(detector(), repeated), []);
  const failed = {
    ...call("read_file", { path: "/c/.env" }, { session: "failed" }),
    error: { type: "tool_error", message: "ENOENT" },
  };
  assert.deepEqual(run(detector(), [call("read_file", { path: "/d/.env" }, { session: "failed" }), failed]), []);
});
