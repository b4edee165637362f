import assert from "node:assert/strict";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ToolwatchError } from "../../../src/core/errors.js";
import { PolicyHolder } from "../../../src/defence/policy/policy-holder.js";
import { call, verdict } from "./policy-helpers.js";

/** Waits until `condition` holds: file events arrive when the machine gets to them, so the bound is generous. */
async function eventually(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function policyText(deny: string): string {
  return [
    "version: 1",
    "policies:",
    "  - name: everyone",
    `    tools: { deny: ["${deny}"] }`,
    "    rate_limits:",
    '      - { tool: "*", per: session, max: 2, window: 1h }',
    "",
  ].join("\n");
}

test("the holder reloads a changed file, keeps the old engine on a bad one, and carries rate limits over", async () => {
  const folder = mkdtempSync(join(tmpdir(), "toolwatch-policy-"));
  const file = join(folder, "policy.yaml");
  writeFileSync(file, policyText("shell/*"));
  const errors: string[] = [];
  let reloads = 0;
  const holder = new PolicyHolder(file, {
    debounce_ms: 30,
    onError: (message) => errors.push(message),
    onReload: () => reloads++,
  });
  try {
    const shellVisible = () => holder.engine.isToolVisible({ user: "ada", agent: null }, "shell", "exec");
    const mailVisible = () => holder.engine.isToolVisible({ user: "ada", agent: null }, "mail", "send");
    assert.equal(shellVisible(), false);
    assert.equal(verdict(holder.engine.checkCall(call({ server: "crm", tool: "get" }))), "allowed");

    writeFileSync(file, policyText("mail/*"));
    await eventually(() => mailVisible() === false, "the edited policy to take effect");
    assert.equal(shellVisible(), true);
    assert.equal(reloads, 1);
    assert.equal(
      verdict(holder.engine.checkCall(call({ server: "crm", tool: "get" }))),
      "allowed",
      "the second call of the session: the count survived the reload",
    );
    assert.equal(verdict(holder.engine.checkCall(call({ server: "crm", tool: "get" }))), "everyone/rate_limits[0]");

    // Editors save by writing a temporary file and renaming it over the old one.
    const temporary = join(folder, ".policy.yaml.swp");
    writeFileSync(temporary, policyText("crm/*"));
    renameSync(temporary, file);
    await eventually(() => !holder.engine.isToolVisible({ user: null, agent: null }, "crm", "get"), "the renamed file");
    assert.equal(mailVisible(), true);

    const before = holder.engine;
    writeFileSync(file, `${policyText("crm/*")}    tools_typo: {}\n`);
    await eventually(() => errors.length > 0, "onError for the bad file");
    assert.equal(errors[0], `${file}:7:5: policies.0: unknown key "tools_typo"`);
    assert.equal(holder.engine, before, "the old engine stays in force");
    assert.equal(holder.engine.isToolVisible({ user: null, agent: null }, "crm", "get"), false);
    assert.equal(reloads, 2);

    writeFileSync(file, policyText("files/*"));
    await eventually(() => !holder.engine.isToolVisible({ user: null, agent: null }, "files", "read"), "recovery");
    assert.equal(reloads, 3);
  } finally {
    holder.close();
    rmSync(folder, { recursive: true, force: true });
  }
});

test("without watching, reload() applies changes on demand; a bad file at start throws with its place", () => {
  const folder = mkdtempSync(join(tmpdir(), "toolwatch-policy-"));
  const file = join(folder, "policy.yaml");
  try {
    writeFileSync(file, "version: 1\npolicies:\n  - name: p\n    tools: { deny: [x/y] }\n    extra: 1\n");
    assert.throws(
      () => new PolicyHolder(file, { watch: false }),
      (error: unknown) =>
        error instanceof ToolwatchError && error.code === "config_invalid" && /:5:5: /.test(error.message),
    );
    writeFileSync(file, policyText("x/*"));
    const errors: string[] = [];
    const holder = new PolicyHolder(file, { watch: false, onError: (message) => errors.push(message) });
    assert.equal(holder.reload(), false, "unchanged text");
    writeFileSync(file, policyText("y/*"));
    assert.equal(holder.engine.isToolVisible({ user: null, agent: null }, "y", "z"), true, "not before reload()");
    assert.equal(holder.reload(), true);
    assert.equal(holder.engine.isToolVisible({ user: null, agent: null }, "y", "z"), false);
    rmSync(file);
    assert.equal(holder.reload(), false);
    assert.match(errors[0]!, /cannot read the policy file: ENOENT/);
    assert.equal(holder.engine.isToolVisible({ user: null, agent: null }, "y", "z"), false, "still in force");
    holder.close();
    holder.close();
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
