/**
 * `toolwatch demo`, the README's first command, end to end: the gateway in front of the real npm servers, the
 * scripted sessions, and a report that shows capture, inline defence, findings and alerts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runDemo } from "../../src/demo/demo.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";

const folder = mkdtempSync(join(tmpdir(), "toolwatch-demo-test-"));
after(() => rmSync(folder, { recursive: true, force: true }));

test("the demo captures every session, defends inline, and reports findings and alerts", async () => {
  const databasePath = join(folder, "demo.db");
  let report = "";
  const result = await runDemo({ databasePath, write: (text) => (report += text) });
  assert.equal(result.sessions, 6);
  assert.equal(result.dropped, 0);
  assert.equal(result.audit_ok, true);
  assert.match(report, /finding \[high\] tool_poisoning files\/read_text_file/);
  assert.match(report, /finding \[high\] dlp files\/write_file: DLP blocked aws_access_key_id/);
  assert.match(report, /finding \[medium\] policy files\/write_file/);
  assert.match(report, /alert \[critical\] auth_failure_burst firing/);
  assert.match(report, /audit chain: verified/);

  const store = new SqliteStore(databasePath, { readonly: true });
  try {
    const exchanges = (await store.exchanges({ limit: 10_000 })).map((stored) => stored.exchange);
    assert.ok(
      !JSON.stringify(exchanges).includes(["AKIA", "Z7VQ4XK2M6PLJ3RT"].join("")),
      "the blocked key is not stored",
    );
    const findings = await store.findings();
    assert.equal(findings.length, result.findings);
    // The only poisoning finding is the injected ticket: ordinary server output raises none.
    const poisoning = findings.filter((finding) => finding.category === "tool_poisoning");
    assert.deepEqual(
      poisoning.map((finding) => finding.tool),
      ["read_text_file"],
    );
  } finally {
    await store.shutdown();
  }
});
