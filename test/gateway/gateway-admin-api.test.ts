import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readSilences } from "../../src/alerts/silences.js";
import { type Gateway, startGateway } from "../../src/capture/http-gateway.js";
import { parseConfig } from "../../src/config/config.js";
import { createLiveRuntime, type LiveRuntime } from "../../src/runtime/live-runtime.js";
import { InMemoryStore } from "../../src/store/index.js";
import { refusedRequest } from "../alerts/alert-test-helpers.js";
import { ECHO_SERVER, nodeServer } from "./helpers.js";

const ADMIN = "admin-key-0123456789";
const AGENT = "agent-key-0123456789";
const SOURCE = "198.51.100.7";

describe("gateway admin API", () => {
  let folder: string;
  let silencesFile: string;
  let store: InMemoryStore;
  let runtime: LiveRuntime;
  let gateway: Gateway;
  const admin = { authorization: `Bearer ${ADMIN}` };
  const agent = { authorization: `Bearer ${AGENT}` };

  before(async () => {
    folder = mkdtempSync(join(tmpdir(), "toolwatch-admin-api-"));
    silencesFile = join(folder, "toolwatch.silences.json");
    const config = parseConfig(
      JSON.stringify({
        gateway: {
          api_keys: [
            { key: ADMIN, user: "alice" },
            { key: AGENT, user: "build-bot", agent: "coder" },
          ],
          admin_users: ["alice"],
        },
        servers: { echo: nodeServer(ECHO_SERVER) },
      }),
    );
    store = new InMemoryStore();
    runtime = createLiveRuntime({ config, store, silencesFile });
    gateway = await startGateway({ config, runtime, host: "127.0.0.1", port: 0, log: () => {} });
  });

  after(async () => {
    await gateway.close();
    await runtime.shutdown();
    rmSync(folder, { recursive: true, force: true });
  });

  const api = (path: string, init: RequestInit = {}) => fetch(`${gateway.url}/api/v1/${path}`, init);
  const post = (body: unknown, headers: Record<string, string> = admin) =>
    api("silences", {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  test("only authenticated admin users get in: 401 without a credential, 403 for other users", async () => {
    const anonymous = await api("silences");
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get("www-authenticate") ?? "", /Bearer/);
    const other = await api("silences", { headers: agent });
    assert.equal(other.status, 403);
    assert.deepEqual(await other.json(), { error: "this credential may not use the admin API" });
    assert.equal((await post({ rule: "auth_failure_burst", duration: "1h" }, agent)).status, 403);
    assert.equal(existsSync(silencesFile), false, "a refused request writes nothing");
    assert.deepEqual(await store.actions(), [], "nor does it leave an operator action");
    const ok = await api("silences", { headers: admin });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { silences: [] });
  });

  test("a silence added through the API is written to the silences file and holds the next firing back", async () => {
    const created = await post({
      rule: "auth_failure_burst",
      matchers: { source: SOURCE },
      duration: "1h",
      comment: "pen test",
    });
    assert.equal(created.status, 201);
    const silence = (await created.json()) as { id: string; rule: string; created_by: string; ends_at: string };
    assert.equal(silence.rule, "auth_failure_burst");
    assert.equal(silence.created_by, "alice", "the API records who silenced, from the credential");
    const inFile = readSilences(silencesFile);
    assert.deepEqual(
      inFile.map((entry) => entry.id),
      [silence.id],
    );
    const listed = (await (await api("silences", { headers: admin })).json()) as { silences: { id: string }[] };
    assert.deepEqual(
      listed.silences.map((entry) => entry.id),
      [silence.id],
    );

    // No tick needed: the engine has the silence at once. The burst ends now, after the silence began: silences
    // are compared with the event time.
    const start = Date.now() - 10_000;
    for (const second of [0, 2, 4, 6, 8, 10])
      runtime.pipeline.process(refusedRequest(start + second * 1000, SOURCE, "echo"));
    const firing = (await store.alerts({ rule: "auth_failure_burst", state: "firing" })).filter(
      (event) => event.labels.source === SOURCE,
    );
    assert.equal(firing.length, 1);
    assert.equal(firing[0]!.silenced_by, silence.id);
    const alerts = (await (await api("alerts", { headers: admin })).json()) as {
      alerts: { rule: string; state: string; labels: Record<string, string> }[];
    };
    assert.ok(
      alerts.alerts.some(
        (alert) => alert.rule === "auth_failure_burst" && alert.state === "firing" && alert.labels.source === SOURCE,
      ),
    );

    const removed = await api(`silences/${silence.id}`, { method: "DELETE", headers: admin });
    assert.equal(removed.status, 204);
    assert.deepEqual(readSilences(silencesFile), []);
    const again = await api(`silences/${silence.id}`, { method: "DELETE", headers: admin });
    assert.equal(again.status, 404);

    // Both changes are in the audit chain, with who made them and from where, by the time the answers came.
    const actions = await store.actions();
    assert.deepEqual(
      actions.map((action) => [action.action, action.target, action.actor, action.via]),
      [
        ["silence.add", silence.id, "alice", "admin_api"],
        ["silence.remove", silence.id, "alice", "admin_api"],
      ],
    );
    for (const action of actions) {
      assert.match(action.source ?? "", /127\.0\.0\.1$/);
      assert.equal((action.detail.silence as { id: string }).id, silence.id);
      assert.ok(Math.abs(Date.parse(action.time) - Date.now()) < 60_000, "stamped on the wall clock");
    }
    assert.equal((await store.verifyAudit()).ok, true);

    // The same record, for operators who only have the API.
    const actionsListed = async (query: string) => {
      const answer = await api(`actions${query}`, { headers: admin });
      assert.equal(answer.status, 200);
      return ((await answer.json()) as { actions: { action: string; target: string }[] }).actions;
    };
    assert.deepEqual(
      (await actionsListed("")).map((action) => [action.action, action.target]),
      [
        ["silence.add", silence.id],
        ["silence.remove", silence.id],
      ],
    );
    assert.deepEqual(
      (await actionsListed("?action=silence.remove&actor=alice&since=1h")).map((action) => action.action),
      ["silence.remove"],
    );
    assert.equal((await actionsListed("?limit=1")).length, 1);
    assert.deepEqual(await actionsListed("?actor=mallory"), []);
    assert.equal((await api("actions", { headers: agent })).status, 403, "only admin users read the audit trail");
  });

  test("bad requests get a clear 4xx and change nothing", async () => {
    const actionsBefore = (await store.actions()).length;
    const cases: Array<[unknown, number, RegExp]> = [
      ["{not json", 400, /not JSON/],
      [{ duration: "1h" }, 400, /rule/],
      [{ rule: "x" }, 400, /duration or ends_at/],
      [{ rule: "x", duration: "1h", ends_at: "2030-01-01T00:00:00Z" }, 400, /duration or ends_at/],
      [{ rule: "x", duration: "-5m" }, 400, /future/],
      [{ rule: "x", ends_at: "2001-01-01T00:00:00Z" }, 400, /future/],
      [{ rule: "x", duration: "1h", extra: true }, 400, /extra|Unrecognized/i],
      ["x".repeat(70 * 1024), 413, /larger than/],
    ];
    for (const [body, status, message] of cases) {
      const response = await post(body);
      assert.equal(response.status, status, JSON.stringify(body).slice(0, 80));
      const { error } = (await response.json()) as { error: string };
      assert.match(error, message);
    }
    assert.equal((await api("silences", { method: "PUT", headers: admin })).status, 405);
    for (const [query, message] of [
      ["?action=silence.delete", /action/],
      ["?since=whenever", /since/],
      ["?limit=0", /limit/],
      ["?verbose=1", /verbose|Unrecognized/i],
    ] as const) {
      const answer = await api(`actions${query}`, { headers: admin });
      assert.equal(answer.status, 400, query);
      assert.match(((await answer.json()) as { error: string }).error, message);
    }
    assert.equal((await api("actions", { method: "POST", headers: admin })).status, 405);
    assert.equal((await api("nothing", { headers: admin })).status, 404);
    // A malformed escape in the id is just no such silence, and the gateway goes on serving.
    assert.equal((await api("silences/%E0%A4%A", { method: "DELETE", headers: admin })).status, 404);
    assert.equal((await api("silences", { headers: admin })).status, 200);
    assert.deepEqual(readSilences(silencesFile), []);
    assert.equal((await store.actions()).length, actionsBefore, "a refused change leaves no operator action");
  });

  test("a broken silences file is a 500 with the reason, and the gateway goes on serving", async () => {
    writeFileSync(silencesFile, "{ not json");
    const listed = await api("silences", { headers: admin });
    assert.equal(listed.status, 500);
    assert.match(((await listed.json()) as { error: string }).error, /not JSON/);
    assert.equal((await post({ rule: "x", duration: "1h" })).status, 500);
    writeFileSync(silencesFile, JSON.stringify({ version: 1, silences: [] }));
    assert.equal((await api("silences", { headers: admin })).status, 200);
  });
});
