/**
 * Routine requests end to end: a baseline trained by `toolwatch baseline train` on help-desk traffic, loaded by
 * `toolwatch proxy` through `detectors.baseline`, reaches the inline guard. The official SDK client plays a desk
 * session and an attacked one against a server that answers with the recorded results.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { paths } from "../capture/proxy-harness.js";
import { type SupportSession, supportDeskBaseline, supportDeskTest } from "../fixtures/support-desk-traffic.js";

const workspace = mkdtempSync(join(tmpdir(), "toolwatch-routine-"));
after(() => rmSync(workspace, { recursive: true, force: true }));

const captureServer = `${paths.root}dist/test/fixtures/capture-server.js`;
const toJsonLines = (sessions: SupportSession[]) =>
  sessions.flatMap((session) => session.records.map((record) => `${JSON.stringify(record)}\n`)).join("");

const baselineCapture = join(workspace, "baseline.jsonl");
writeFileSync(baselineCapture, toJsonLines(supportDeskBaseline(150)));
const baselineFile = join(workspace, "baseline.json");
execFileSync(process.execPath, [paths.cli, "baseline", "train", baselineCapture, "-o", baselineFile], {
  stdio: "pipe",
});

const sessions = supportDeskTest(40, 2);
// A benign session whose reply the guard held without the baseline, and an attack that names an outsider.
const benign = sessions.filter((session) => session.kind === "benign");
const thirdParty = sessions.find((session) => session.kind === "records_to_third_party")!;

function config(name: string, withBaseline: boolean): string {
  const file = join(workspace, `${name}.yaml`);
  const lines = [`database: ${JSON.stringify(join(workspace, `${name}.db`))}`];
  if (withBaseline) lines.push("detectors:", `  baseline: ${JSON.stringify(baselineFile)}`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

/** Plays `session` through a proxy; the tools whose calls were refused, in order. */
async function play(configFile: string, session: SupportSession): Promise<string[]> {
  const capture = join(workspace, `${session.session}.jsonl`);
  writeFileSync(capture, toJsonLines([session]));
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [
      paths.cli,
      "proxy",
      "--config",
      configFile,
      "--server",
      "helpdesk",
      "--agent",
      "support",
      "--",
      process.execPath,
      captureServer,
      capture,
    ],
    stderr: "pipe",
  });
  const client = new Client({ name: "toolwatch-routine-e2e", version: "1.0.0" });
  await client.connect(transport);
  const refused: string[] = [];
  try {
    for (const record of session.records) {
      try {
        await client.callTool({ name: record.tool, arguments: record.arguments });
      } catch (error) {
        assert.match((error as Error).message, /The request was not permitted/);
        refused.push(record.tool);
      }
    }
  } finally {
    await client.close();
  }
  return refused;
}

test("a baseline file reaches the proxy's guard: the desk's reply goes through, the outsider's copy does not", async () => {
  const unaware = config("unaware", false);
  // The first benign session the guard holds without a baseline (most reply to the ticket's author).
  let held: SupportSession | undefined;
  for (const session of benign.slice(0, 6)) {
    if ((await play(unaware, session)).length > 0) {
      held = session;
      break;
    }
  }
  assert.ok(held, "without a baseline the guard holds some of the desk's own work");

  const aware = config("aware", true);
  assert.deepEqual(await play(aware, held), [], "with the baseline the same session goes through");
  assert.deepEqual(await play(aware, thirdParty), ["send_email"], "a record sent to an outsider is still held");
});
