import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type JwksServer, signToken, startJwksServer, type TestKey, testKey } from "../capture/jwt-test-issuer.js";
import {
  connectClient,
  ECHO_SERVER,
  nodeServer,
  openSession,
  postRaw,
  startTestGateway,
  type TestGateway,
} from "./helpers.js";

const ISSUER = "https://auth.example.com";
const RESOURCE = "https://gw.example.com/mcp";
const API_KEY = "alice-key-0123456789";

// The gateway as an OAuth 2.1 resource server, end to end: real JWKS endpoint, real gateway, SDK client.
describe("gateway with OAuth access tokens", () => {
  let gateway: TestGateway;
  let jwks: JwksServer;
  let key: TestKey;
  let echo: string;

  before(async () => {
    key = await testKey("ES256", "gw-1");
    jwks = await startJwksServer([key.publicJwk]);
    gateway = await startTestGateway({
      gateway: {
        api_keys: [{ key: API_KEY, user: "alice", agent: "coder" }],
        auth: {
          resource: RESOURCE,
          authorization_servers: [ISSUER],
          jwt: { issuer: ISSUER, jwks_url: jwks.url, agent_claim: "role", required_scopes: ["mcp:tools"] },
        },
      },
      servers: { echo: nodeServer(ECHO_SERVER) },
    });
    echo = gateway.route("echo");
  });

  after(async () => {
    await gateway.close();
    await jwks.close();
  });

  const token = (claims: Record<string, unknown> = {}, subject = "alice") =>
    signToken(key, { scope: "mcp:tools", role: "support", ...claims }, { issuer: ISSUER, audience: RESOURCE, subject });

  test("the Protected Resource Metadata is served without credentials, at the root and per route", async () => {
    for (const path of ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp/echo"]) {
      const response = await fetch(`${gateway.gateway.url}${path}`);
      assert.equal(response.status, 200, path);
      assert.deepEqual(await response.json(), {
        resource: RESOURCE,
        authorization_servers: [ISSUER],
        bearer_methods_supported: ["header"],
        resource_name: "toolwatch gateway",
        scopes_supported: ["mcp:tools"],
      });
    }
    const unknown = await fetch(`${gateway.gateway.url}/.well-known/oauth-protected-resource/mcp/nope`);
    assert.notEqual(unknown.status, 200, "no metadata for a route that does not exist");
  });

  test("a request without credentials gets 401 with the resource_metadata challenge", async () => {
    const response = await postRaw(echo, { jsonrpc: "2.0", id: 1, method: "tools/list" });
    assert.equal(response.status, 401);
    assert.equal(
      response.headers.get("www-authenticate"),
      'Bearer realm="toolwatch", scope="mcp:tools", resource_metadata="https://gw.example.com/.well-known/oauth-protected-resource/mcp"',
    );
  });

  test("a valid token opens a session whose records carry the subject and the role", async () => {
    const { client } = await connectClient(echo, { authorization: `Bearer ${await token()}` });
    const result = await client.callTool({ name: "echo", arguments: { text: "hi" } });
    assert.ok(!result.isError);
    await client.close();
    const calls = (await gateway.records()).filter((record) => record.method === "tools/call");
    assert.ok(calls.length > 0);
    assert.deepEqual([calls.at(-1)?.user, calls.at(-1)?.agent], ["alice", "support"]);
  });

  test("a token without the required scope gets 403 insufficient_scope; a bad token 401, both recorded without the token", async () => {
    const narrow = await token({ scope: "openid" });
    const forbidden = await postRaw(
      echo,
      { jsonrpc: "2.0", id: 1, method: "tools/list" },
      { authorization: `Bearer ${narrow}` },
    );
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.headers.get("www-authenticate") ?? "", /error="insufficient_scope", .*scope="mcp:tools"/);
    const expired = await signToken(key, { scope: "mcp:tools" }, { issuer: ISSUER, audience: RESOURCE, expiresIn: 1 });
    const refused = await postRaw(
      echo,
      { jsonrpc: "2.0", id: 2, method: "tools/list" },
      { authorization: `Bearer ${expired}` },
    );
    assert.equal(refused.status, 401);
    assert.match(
      refused.headers.get("www-authenticate") ?? "",
      /error="invalid_token", error_description="token expired"/,
    );
    const records = await gateway.records();
    const denied = records.filter((record) => record.decisions?.some((decision) => decision.stage === "auth"));
    assert.deepEqual(
      denied.slice(-2).map((record) => [record.error?.type, record.error?.message, record.source]),
      [
        ["http_403", "insufficient scope", "127.0.0.1"],
        ["http_401", "token expired", "127.0.0.1"],
      ],
    );
    const text = JSON.stringify(records);
    assert.ok(!text.includes(narrow) && !text.includes(expired), "tokens are never recorded");
  });

  test("a session opened with one principal's token is unknown to another principal", async () => {
    const aliceHeaders = { authorization: `Bearer ${await token({}, "alice")}` };
    const session = await openSession(echo, aliceHeaders);
    const list = { jsonrpc: "2.0", id: 5, method: "tools/list" };
    const own = await postRaw(echo, list, { ...aliceHeaders, "mcp-session-id": session });
    assert.equal(own.status, 200);
    const bob = await postRaw(echo, list, {
      authorization: `Bearer ${await token({}, "bob")}`,
      "mcp-session-id": session,
    });
    assert.equal(bob.status, 404, "bob's token cannot use alice's session");
    const aliceKey = await postRaw(echo, list, { authorization: `Bearer ${API_KEY}`, "mcp-session-id": session });
    assert.equal(aliceKey.status, 404, "nor can an API key with the same user name");
  });

  test("the SDK client sees the 401 with the metadata link when the token is wrong", async () => {
    const foreign = await testKey("ES256", "gw-1");
    const forged = await signToken(foreign, { scope: "mcp:tools" }, { issuer: ISSUER, audience: RESOURCE });
    await assert.rejects(
      connectClient(echo, { authorization: `Bearer ${forged}` }),
      (error: unknown) => error instanceof StreamableHTTPError && error.code === 401,
    );
  });
});
