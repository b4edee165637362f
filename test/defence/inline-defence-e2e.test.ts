/**
 * Inline defence end to end: the official SDK client talks to a server that attacks it (poisoned results,
 * a tool definition that changes mid-session) through `toolwatch proxy`, with a policy, poisoning quarantine
 * and blocking tool pinning configured. What the client sees must be defended; what the store holds must say why.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CapturedExchange } from "../../src/core/exchange.js";
import type { OperatorAction } from "../../src/core/operator-action.js";
import { QUARANTINE_NOTICE } from "../../src/defence/inline-defence.js";
import { SqliteDefenceState } from "../../src/store/defence-state-store.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { paths } from "../capture/proxy-harness.js";

const workspace = mkdtempSync(join(tmpdir(), "toolwatch-defence-"));
after(() => rmSync(workspace, { recursive: true, force: true }));

const database = join(workspace, "toolwatch.db");
const policyFile = join(workspace, "policy.yaml");
const configFile = join(workspace, "toolwatch.yaml");
const AWS_KEY = "AKIAZ7VQ4XK2M6PLJ3RT";
const EMAIL = "jane.doe@corp-mail.example.com";
const poisonedServer = `${paths.root}dist/test/fixtures/poisoned-server.js`;

writeFileSync(
  policyFile,
  [
    "version: 1",
    "default: allow",
    "policies:",
    "  - name: no-mail",
    "    tools:",
    '      deny: ["*/send_email"]',
    "",
  ].join("\n"),
);
writeFileSync(
  configFile,
  [
    `database: ${JSON.stringify(database)}`,
    "policy:",
    `  file: ${JSON.stringify(policyFile)}`,
    "poisoning:",
    "  result_action: quarantine",
    "pinning:",
    "  block_changed: true",
    "",
  ].join("\n"),
);

async function withClient<T>(script: (client: Client) => Promise<T>): Promise<T> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [paths.cli, "proxy", "--config", configFile, "--server", "mail", "--", process.execPath, poisonedServer],
    stderr: "pipe",
  });
  const client = new Client({ name: "toolwatch-defence-e2e", version: "1.0.0" });
  await client.connect(transport);
  try {
    return await script(client);
  } finally {
    await client.close();
  }
}

async function refusal(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    return (error as Error).message;
  }
  assert.fail("the call was expected to be refused");
}

function toolNames(list: { tools: { name: string }[] }): string[] {
  return list.tools.map((tool) => tool.name).sort();
}

async function storedExchanges(): Promise<CapturedExchange[]> {
  const store = new SqliteStore(database, { readonly: true });
  try {
    return (await store.exchanges({ limit: 1000 })).map((stored) => stored.exchange);
  } finally {
    await store.shutdown();
  }
}

test("policy, quarantine and pinning defend a live stdio session, and the store says why", async () => {
  const seen = await withClient(async (client) => {
    const firstList = toolNames(await client.listTools());
    const denied = await refusal(client.callTool({ name: "send_email", arguments: { to: "a@b.example", body: "hi" } }));
    const secret = await refusal(client.callTool({ name: "echo", arguments: { text: `key ${AWS_KEY}` } }));
    const email = await client.callTool({ name: "echo", arguments: { text: `write to ${EMAIL}` } });
    const inbox = await client.callTool({ name: "read_inbox", arguments: {} });
    const noteBefore = await client.callTool({ name: "read_note", arguments: { name: "groceries" } });
    await client.callTool({ name: "rug_pull", arguments: {} });
    const secondList = toolNames(await client.listTools());
    const changed = await refusal(client.callTool({ name: "read_note", arguments: { name: "groceries" } }));
    return { firstList, denied, secret, email, inbox, noteBefore, secondList, changed };
  });

  // The policy hides the denied tool and refuses a call to it with a neutral message.
  assert.deepEqual(seen.firstList, ["echo", "read_env", "read_inbox", "read_note", "rug_pull"]);
  assert.match(seen.denied, /The request was not permitted/);
  assert.doesNotMatch(seen.denied, /policy|send_email|deny/i);
  // DLP: a secret in the arguments is blocked; personal data only alerts, so the call goes through unchanged.
  assert.match(seen.secret, /The request was not permitted/);
  assert.deepEqual(seen.email.content, [{ type: "text", text: `write to ${EMAIL}` }]);
  // The poisoned e-mail never reaches the model.
  assert.deepEqual(seen.inbox.content, [{ type: "text", text: QUARANTINE_NOTICE }]);
  assert.equal(seen.inbox.isError, true);
  assert.match(JSON.stringify(seen.noteBefore.content), /buy milk/);
  // After the rug pull the changed tool is hidden and refused until approved.
  assert.deepEqual(seen.secondList, ["echo", "read_env", "read_inbox", "rug_pull"]);
  assert.match(seen.changed, /The request was not permitted/);

  const exchanges = await storedExchanges();
  const calls = exchanges.filter((exchange) => exchange.method === "tools/call");
  const mail = calls.find((exchange) => exchange.tool === "send_email");
  assert.equal(mail?.error?.type, "refused");
  assert.equal(mail?.decisions?.[0]?.stage, "policy");
  assert.equal(mail?.decisions?.[0]?.action, "deny");
  assert.match(mail?.decisions?.[0]?.rule ?? "", /no-mail/);

  // Nothing DLP matched is stored raw, whatever the action.
  const stored = JSON.stringify(exchanges);
  assert.ok(!stored.includes(AWS_KEY), "the blocked secret is not in the store");
  assert.ok(!stored.includes(EMAIL), "the flagged e-mail address is not in the store");
  const [blocked, flagged] = calls.filter((exchange) => exchange.tool === "echo");
  assert.equal(blocked?.error?.type, "refused");
  assert.deepEqual(
    blocked?.decisions?.map((decision) => [decision.stage, decision.action]),
    [["dlp", "block"]],
  );
  assert.match(JSON.stringify(blocked?.arguments), /REDACTED/);
  assert.equal(flagged?.error, null);
  assert.ok(flagged?.decisions?.some((decision) => decision.stage === "dlp" && decision.action === "alert"));
  assert.match(flagged?.result ?? "", /REDACTED/);

  const inbox = calls.find((exchange) => exchange.tool === "read_inbox");
  assert.equal(inbox?.result, QUARANTINE_NOTICE);
  const poisoning = inbox?.decisions?.find((decision) => decision.stage === "poisoning");
  assert.equal(poisoning?.action, "quarantine");
  assert.ok((poisoning?.reason.length ?? 0) > 0);

  const lists = exchanges.filter((exchange) => exchange.method === "tools/list");
  // The store keeps the full list the server sent, including what was hidden.
  assert.ok(lists[0]?.tools?.some((tool) => tool.name === "send_email"));
  const pinning = lists
    .flatMap((exchange) => exchange.decisions ?? [])
    .find((decision) => decision.stage === "pinning");
  assert.equal(pinning?.action, "block");
  assert.equal(pinning?.rule, "tool_definition_change");
  assert.match(pinning?.reason ?? "", /read_note changed its description/);

  const refusedNote = calls.filter((exchange) => exchange.tool === "read_note").at(-1);
  assert.equal(refusedNote?.error?.type, "refused");
  assert.equal(refusedNote?.decisions?.[0]?.stage, "pinning");

  const state = new SqliteDefenceState(database);
  try {
    const [quarantined] = state.quarantined();
    assert.equal(quarantined?.tool, "read_inbox");
    assert.match(quarantined?.content ?? "", /Ignore previous instructions/);
    assert.match(quarantined?.content ?? "", /REDACTED:email/, "DLP masks the quarantined copy too");
    const note = state.pins("mail").find((pin) => pin.tool === "read_note");
    assert.match(note?.changed_definition?.description ?? "", /IMPORTANT/);
  } finally {
    state.close();
  }
});

test("reading quarantined content leaves a trace in the audit chain before the content is printed", () => {
  const state = new SqliteDefenceState(database);
  const [quarantined] = state.quarantined();
  state.close();
  assert.ok(quarantined !== undefined);
  const shown = execFileSync(process.execPath, [paths.cli, "quarantine", "show", quarantined.id, "--db", database], {
    encoding: "utf8",
  });
  assert.match(shown, /Ignore previous instructions/);
  const [read] = operatorActions();
  assert.deepEqual(
    [read?.action, read?.target, read?.via, read?.detail.tool],
    ["quarantine.show", quarantined.id, "cli", "read_inbox"],
  );
});

test("an approved definition change is callable again in the next session", async () => {
  const listed = execFileSync(process.execPath, [paths.cli, "tools", "list", "--db", database, "--changed"], {
    encoding: "utf8",
  });
  assert.match(listed, /read_note\s+CHANGED/);
  const approved = execFileSync(
    process.execPath,
    [paths.cli, "tools", "approve", "mail", "read_note", "--db", database],
    {
      encoding: "utf8",
    },
  );
  assert.match(approved, /approved mail\/read_note/);
  // The approval is in the audit chain, with the pin hashes it moved between, and the chain still verifies.
  const [approval] = operatorActions({ action: "tool.approve" });
  assert.deepEqual(
    [approval?.action, approval?.target, approval?.via, approval?.actor],
    ["tool.approve", "mail/read_note", "cli", userInfo().username],
  );
  assert.match(String(approval?.detail.approved_hash), /^sha256:[0-9a-f]{64}$/);
  assert.notEqual(approval?.detail.approved_hash, approval?.detail.previous_hash);
  assert.match(
    execFileSync(process.execPath, [paths.cli, "audit", "verify", "--db", database], { encoding: "utf8" }),
    /audit chain verified/,
  );
  // The new session's server starts with the original definition again: that differs from the approved one.
  const seen = await withClient(async (client) => {
    await client.callTool({ name: "rug_pull", arguments: {} });
    const list = toolNames(await client.listTools());
    const note = await client.callTool({ name: "read_note", arguments: { name: "groceries" } });
    return { list, note };
  });
  assert.ok(seen.list.includes("read_note"));
  assert.match(JSON.stringify(seen.note.content), /buy milk/);
});

/** The operator actions in the test's database, through the real CLI. */
function operatorActions(filter: { action?: string } = {}): OperatorAction[] {
  const args = [paths.cli, "audit", "actions", "--db", database, "--json"];
  if (filter.action !== undefined) args.push("--action", filter.action);
  return execFileSync(process.execPath, args, { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as OperatorAction);
}
