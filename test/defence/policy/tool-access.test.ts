import assert from "node:assert/strict";
import { test } from "node:test";
import { call, engineFor, verdict } from "./policy-helpers.js";

const SUPPORT = [
  "version: 1",
  "default: allow",
  "policies:",
  "  - name: everyone",
  "    tools:",
  '      deny: ["*/delete_*", "shell/*"]',
  "  - name: support-agents",
  "    match: { agent: support }",
  "    tools:",
  '      allow: ["crm/*", "mail/send_email", "*/search_*", "archive_later"]',
  '      deny: ["crm/export_*"]',
];

test("allow globs name a server and a tool glob; a bare glob means any server", () => {
  const engine = engineFor(SUPPORT);
  const support = { user: "ada", agent: "support" };
  assert.equal(engine.isToolVisible(support, "crm", "get_customer"), true);
  assert.equal(engine.isToolVisible(support, "mail", "send_email"), true);
  assert.equal(engine.isToolVisible(support, "mail", "send_email_bulk"), false, "no glob: exact name");
  assert.equal(engine.isToolVisible(support, "mail", "read_inbox"), false);
  assert.equal(engine.isToolVisible(support, "docs", "search_pages"), true, "*/search_* on any server");
  assert.equal(engine.isToolVisible(support, "wiki", "search_pages"), true);
  assert.equal(engine.isToolVisible(support, "any-server", "archive_later"), true, "a bare glob means any server");
  assert.equal(engine.isToolVisible(support, "crmx", "get_customer"), false, "the server glob is whole");
});

test("deny wins over allow, in the same policy and across policies", () => {
  const engine = engineFor(SUPPORT);
  assert.equal(verdict(engine.checkCall(call({ server: "crm", tool: "export_all" }))), "support-agents/tools.deny[0]");
  assert.equal(verdict(engine.checkCall(call({ server: "crm", tool: "delete_customer" }))), "everyone/tools.deny[0]");
  const refused = engine.checkCall(call({ server: "crm", tool: "delete_customer" }));
  assert.ok(!refused.allowed && /crm\/delete_customer matches deny pattern "\*\/delete_\*"/.test(refused.reason));
  assert.equal(verdict(engine.checkCall(call({ server: "shell", tool: "exec" }))), "everyone/tools.deny[1]");
});

test("a principal under an allow list sees only what it grants; others keep the default", () => {
  const engine = engineFor(SUPPORT);
  const refused = engine.checkCall(call({ server: "payments", tool: "transfer" }));
  assert.equal(verdict(refused), "support-agents/tools.allow");
  assert.ok(!refused.allowed && refused.reason.includes("not in the allow list of support-agents"));
  const finance = { user: "bob", agent: "finance" };
  assert.equal(engine.isToolVisible(finance, "payments", "transfer"), true, "default allow for other agents");
  assert.equal(engine.isToolVisible(finance, "crm", "delete_customer"), false, "the everyone deny still applies");
  assert.equal(engine.isToolVisible({ user: null, agent: null }, "payments", "transfer"), true);
  assert.equal(engine.isToolVisible({ user: null, agent: null }, "shell", "exec"), false);
});

test("default deny: nothing is visible unless an applicable allow list grants it; grants add up", () => {
  const engine = engineFor([
    "version: 1",
    "default: deny",
    "policies:",
    "  - name: everyone",
    '    tools: { allow: ["docs/search_*"] }',
    "  - name: support",
    "    match: { agent: support }",
    '    tools: { allow: ["crm/*"] }',
    "  - name: ada",
    "    match: { user: ada }",
    '    tools: { allow: ["admin/*"], deny: ["crm/delete_*"] }',
    "  - name: no-admin-for-support",
    "    match: { agent: support }",
    '    tools: { deny: ["admin/drop_*"] }',
  ]);
  const supportAda = { user: "ada", agent: "support" };
  const supportBob = { user: "bob", agent: "support" };
  assert.equal(engine.isToolVisible(supportBob, "docs", "search_pages"), true);
  assert.equal(engine.isToolVisible(supportBob, "crm", "get_customer"), true);
  assert.equal(engine.isToolVisible(supportBob, "admin", "list_users"), false);
  assert.equal(engine.isToolVisible(supportAda, "admin", "list_users"), true, "a user policy may widen");
  assert.equal(engine.isToolVisible(supportAda, "admin", "drop_table"), false, "but cannot lift a deny");
  assert.equal(engine.isToolVisible(supportAda, "crm", "delete_customer"), false, "and may restrict");
  assert.equal(engine.isToolVisible(supportBob, "crm", "delete_customer"), true, "only for that user");
  const anonymous = engine.checkCall(call({ user: null, agent: null, server: "crm", tool: "get_customer" }));
  assert.equal(verdict(anonymous), "everyone/tools.allow");
  const none = engineFor(["version: 1", "default: deny"]).checkCall(call({ server: "crm", tool: "get" }));
  assert.equal(verdict(none), "default");
});

test("match: both keys must match, globs apply, and an unknown name never matches a named policy", () => {
  const engine = engineFor([
    "version: 1",
    "policies:",
    "  - name: contractors-on-support",
    '    match: { agent: "support*", user: "*@contractor.example" }',
    '    tools: { deny: ["crm/*"] }',
  ]);
  assert.equal(engine.isToolVisible({ user: "x@contractor.example", agent: "support-eu" }, "crm", "get"), false);
  assert.equal(engine.isToolVisible({ user: "x@contractor.example", agent: "sales" }, "crm", "get"), true);
  assert.equal(engine.isToolVisible({ user: "x@staff.example", agent: "support" }, "crm", "get"), true);
  assert.equal(engine.isToolVisible({ user: null, agent: "support" }, "crm", "get"), true);
});

test("a hidden tool is refused on call, and the visibility answer is stable across calls", () => {
  const engine = engineFor(SUPPORT);
  const principal = { user: "ada", agent: "support" };
  for (let round = 0; round < 3; round++) {
    assert.equal(engine.isToolVisible(principal, "payments", "transfer"), false);
    assert.equal(engine.checkCall(call({ server: "payments", tool: "transfer" })).allowed, false);
  }
  // Many distinct principals and tools: the caches are bounded and answers stay right past their limit.
  for (let index = 0; index < 12_000; index++) {
    assert.equal(engine.isToolVisible({ user: `user-${index}`, agent: "support" }, "crm", `get_${index}`), true);
  }
  assert.equal(engine.isToolVisible(principal, "payments", "transfer"), false);
});
