import assert from "node:assert/strict";
import { test } from "node:test";
import { resolvePath } from "../../../src/defence/policy/argument-constraints.js";
import { call, engineFor, verdict } from "./policy-helpers.js";

const ENGINE = engineFor([
  "version: 1",
  "policies:",
  "  - name: limits",
  "    arguments:",
  '      "mail/send_email":',
  '        to: { pattern: "@example\\\\.com$", max_length: 30 }',
  "        body: { max_length: 10 }",
  '      "files/read_file":',
  '        path: { path_prefixes: ["/srv/shared/", "/tmp", "C:\\\\Data"] }',
  '      "payments/transfer":',
  '        currency: { allowed_values: ["EUR", "USD"] }',
  "        priority: { allowed_values: [1, 2, true, null] }",
  "        schema:",
  "          type: object",
  "          required: [amount]",
  "          properties:",
  "            amount: { type: number, maximum: 1000 }",
  '      "*/read_*":',
  "        path: { max_length: 40 }",
]);

function check(server: string, tool: string, values: Record<string, unknown> | null) {
  return ENGINE.checkCall(call({ server, tool, arguments: values }));
}

test("max_length and pattern on strings; the reason names the argument and constraint, never the value", () => {
  assert.equal(verdict(check("mail", "send_email", { to: "ada@example.com", body: "hello" })), "allowed");
  const wrongDomain = check("mail", "send_email", { to: "eve@evil.example.org" });
  assert.equal(verdict(wrongDomain), 'limits/arguments["mail/send_email"].to.pattern');
  assert.ok(!wrongDomain.allowed && wrongDomain.reason === 'argument "to" does not match pattern /@example\\.com$/');
  assert.ok(!wrongDomain.allowed && !wrongDomain.reason.includes("evil"), "the value is not copied to the record");
  const tooLong = check("mail", "send_email", { to: `${"a".repeat(40)}@example.com` });
  assert.equal(verdict(tooLong), 'limits/arguments["mail/send_email"].to.max_length');
  assert.ok(!tooLong.allowed && /is 52 characters long, more than max_length 30/.test(tooLong.reason));
  assert.equal(verdict(check("mail", "send_email", { body: "0123456789" })), "allowed", "exactly the maximum");
  assert.equal(
    verdict(check("mail", "send_email", { body: "0123456789!" })),
    'limits/arguments["mail/send_email"].body.max_length',
  );
  assert.equal(verdict(check("mail", "send_email", {})), "allowed", "an absent argument is not constrained");
  assert.equal(verdict(check("mail", "send_email", null)), "allowed", "no arguments at all");
});

test("non-string values fail string constraints instead of slipping past them", () => {
  for (const value of [42, true, null, ["ada@example.com"], { address: "ada@example.com" }]) {
    const decision = check("mail", "send_email", { to: value });
    assert.equal(verdict(decision), 'limits/arguments["mail/send_email"].to.pattern', JSON.stringify(value));
    assert.ok(!decision.allowed && decision.reason.startsWith('argument "to" expected a string, got'));
  }
  const array = check("files", "read_file", { path: ["/etc/passwd"] });
  assert.equal(verdict(array), 'limits/arguments["files/read_file"].path.path_prefixes');
  assert.ok(!array.allowed && array.reason.endsWith("got an array"));
});

test("allowed_values compares exactly, strings and other scalars alike", () => {
  assert.equal(verdict(check("payments", "transfer", { amount: 5, currency: "EUR" })), "allowed");
  assert.equal(
    verdict(check("payments", "transfer", { amount: 5, currency: "eur" })),
    'limits/arguments["payments/transfer"].currency.allowed_values',
  );
  assert.equal(
    verdict(check("payments", "transfer", { amount: 5, currency: ["EUR"] })),
    'limits/arguments["payments/transfer"].currency.allowed_values',
  );
  for (const priority of [1, 2, true, null]) {
    assert.equal(verdict(check("payments", "transfer", { amount: 5, priority })), "allowed", String(priority));
  }
  for (const priority of [3, "1", false]) {
    assert.equal(
      verdict(check("payments", "transfer", { amount: 5, priority })),
      'limits/arguments["payments/transfer"].priority.allowed_values',
      String(priority),
    );
  }
});

test("path prefixes: resolved before comparison, whole segments only, traversal refused", () => {
  const rule = 'limits/arguments["files/read_file"].path.path_prefixes';
  const allowed = [
    "/srv/shared/a.txt",
    "/srv/shared",
    "/srv/shared/",
    "/tmp/x/../y",
    "/srv/./shared//b",
    "c:\\data\\x",
  ];
  for (const path of allowed) assert.equal(verdict(check("files", "read_file", { path })), "allowed", path);
  const refused = [
    "/srv/shared/../../etc/passwd",
    "/srv/shared/..",
    "/srv/shared-secret/x",
    "/srv/sharedx",
    "/tmpfile",
    "/srv/shared\\..\\..\\etc\\passwd",
    "srv/shared/a.txt",
    "./a.txt",
    "../srv/shared/a",
    "/srv/shared/a\u0000.txt",
    "C:\\Windows\\system.ini",
  ];
  for (const path of refused) assert.equal(verdict(check("files", "read_file", { path })), rule, path);
  const traversal = check("files", "read_file", { path: "/srv/shared/../../etc/passwd" });
  assert.ok(!traversal.allowed && traversal.reason.includes("traverses with `..` to a path outside /srv/shared, /tmp"));
  const relative = check("files", "read_file", { path: "a.txt" });
  assert.ok(!relative.allowed && relative.reason.includes("not an absolute path"));
  assert.equal(resolvePath("/a/b/../c/./d/"), "/a/c/d");
  assert.equal(resolvePath("/../../x"), "/x");
  assert.equal(resolvePath("relative"), null);
  assert.equal(resolvePath("C:\\Data\\..\\Windows"), "c:/windows");
});

test("several argument rules may match one tool, by glob: all of them hold", () => {
  assert.equal(
    verdict(check("files", "read_file", { path: `/srv/shared/${"x".repeat(40)}` })),
    'limits/arguments["*/read_*"].path.max_length',
  );
  assert.equal(verdict(check("other", "read_notes", { path: "relative/is/fine/here" })), "allowed");
});

test("the whole-arguments JSON Schema is checked and its first error is the reason", () => {
  const missing = check("payments", "transfer", { currency: "EUR" });
  assert.equal(verdict(missing), 'limits/arguments["payments/transfer"].schema');
  assert.ok(!missing.allowed && /must have required property 'amount'/.test(missing.reason));
  const tooMuch = check("payments", "transfer", { amount: 5000, currency: "EUR" });
  assert.ok(!tooMuch.allowed && /at \/amount must be <= 1000/.test(tooMuch.reason), JSON.stringify(tooMuch));
  assert.equal(verdict(check("payments", "transfer", { amount: "5" })), 'limits/arguments["payments/transfer"].schema');
  assert.equal(verdict(check("payments", "transfer", null)), 'limits/arguments["payments/transfer"].schema');
});
