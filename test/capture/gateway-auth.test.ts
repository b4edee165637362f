import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { GatewayAuthenticator } from "../../src/capture/gateway-auth.js";
import { gatewayAuthSchema } from "../../src/config/gateway-auth-settings.js";
import { parseYamlFile } from "../../src/config/yaml-file.js";
import { ISSUER, RESOURCE, signToken } from "./jwt-test-issuer.js";

const SECRET = "gateway-auth-test-secret-32-chars";
const HMAC = { privateKey: new TextEncoder().encode(SECRET), alg: "HS256" };
const KEY = "tw-key-alice-0123456789";
const API_KEYS = [
  { key: KEY, user: "alice", agent: "support" },
  { key_sha256: createHash("sha256").update("tw-key-bob-0123456789").digest("hex"), user: "bob" },
];
const REQUEST_URL = new URL("http://127.0.0.1:8808/mcp/files");

function withTokens(apiKeys = API_KEYS, auth: Record<string, unknown> = {}) {
  return new GatewayAuthenticator({
    apiKeys,
    auth: gatewayAuthSchema.parse({
      resource: RESOURCE,
      authorization_servers: [ISSUER],
      jwt: { issuer: ISSUER, secret: SECRET },
      ...auth,
    }),
  });
}

describe("API keys and tokens side by side", () => {
  const gateway = withTokens();

  test("an API key in X-API-Key or as a non-JWT bearer value authenticates as its configured principal", async () => {
    const byHeader = await gateway.authenticate({ "x-api-key": KEY }, REQUEST_URL);
    assert.ok(byHeader.ok);
    assert.deepEqual(byHeader.principal, {
      user: "alice",
      agent: "support",
      key: 0,
      method: "api_key",
      binding: "api_key:0",
    });
    const byBearer = await gateway.authenticate({ authorization: "Bearer tw-key-bob-0123456789" }, REQUEST_URL);
    assert.ok(byBearer.ok);
    assert.equal(byBearer.principal.binding, "api_key:1");
    assert.equal(byBearer.principal.user, "bob");
  });

  test("a JWT-shaped bearer value goes to token validation, and a token principal never shares an API key's binding", async () => {
    const token = await signToken(HMAC, {}, { subject: "alice" });
    const result = await gateway.authenticate({ authorization: `Bearer ${token}` }, REQUEST_URL);
    assert.ok(result.ok);
    assert.equal(result.principal.method, "jwt");
    assert.notEqual(result.principal.binding, "api_key:0", "same user name, different binding");
  });

  test("a wrong key is refused as invalid_token with the metadata link, without echoing the key", async () => {
    const result = await gateway.authenticate({ "x-api-key": "tw-key-wrong-0123456789" }, REQUEST_URL);
    assert.ok(!result.ok);
    assert.equal(result.status, 401);
    assert.equal(result.reason, "invalid API key");
    assert.equal(
      result.wwwAuthenticate,
      'Bearer realm="toolwatch", error="invalid_token", error_description="invalid API key", resource_metadata="https://gw.example.com/.well-known/oauth-protected-resource/mcp"',
    );
    assert.ok(!result.wwwAuthenticate.includes("wrong"));
  });

  test("garbage, oversized and foreign-scheme Authorization headers are refused without a throw", async () => {
    const cases: Array<[string, string]> = [
      ["Basic YWxpY2U6c2VjcmV0", "malformed Authorization header"],
      ["Bearer", "malformed Authorization header"],
      ["Bearer two words", "malformed Authorization header"],
      [`Bearer ${"x".repeat(20_000)}`, "malformed Authorization header"],
      [`Bearer ${"a".repeat(4_000)}.${"b".repeat(4_000)}.c`, "malformed token"],
      ["Bearer e30.e30.", "malformed token"],
      ["Bearer not.a.jwt", "malformed token"],
      ["Bearer \u0000\u0001", "malformed Authorization header"],
    ];
    for (const [header, reason] of cases) {
      const result = await gateway.authenticate({ authorization: header }, REQUEST_URL);
      assert.ok(!result.ok, header.slice(0, 40));
      assert.equal(result.status, 401);
      assert.equal(result.reason, reason, header.slice(0, 40));
      assert.ok(result.wwwAuthenticate.length < 400, "the challenge never grows with the input");
    }
  });

  test("without any credential the reason is `missing credentials` and the challenge carries no error code", async () => {
    const result = await gateway.authenticate({}, REQUEST_URL);
    assert.ok(!result.ok);
    assert.equal(result.reason, "missing credentials");
    assert.doesNotMatch(result.wwwAuthenticate, /error=/);
    assert.match(result.wwwAuthenticate, /^Bearer realm="toolwatch", resource_metadata="https:\/\/gw\.example\.com\//);
  });

  test("tokens only (no API keys): a non-JWT bearer value is a malformed token", async () => {
    const tokensOnly = withTokens([]);
    assert.equal(tokensOnly.anonymous, false);
    const result = await tokensOnly.authenticate({ authorization: `Bearer ${KEY}` }, REQUEST_URL);
    assert.ok(!result.ok);
    assert.equal(result.reason, "malformed token");
  });
});

describe("API keys only (no gateway.auth), as before", () => {
  const gateway = new GatewayAuthenticator({ apiKeys: API_KEYS, auth: undefined });

  test("missing and wrong keys keep their reasons and the plain challenge", async () => {
    const missing = await gateway.authenticate({}, REQUEST_URL);
    assert.ok(!missing.ok);
    assert.deepEqual(
      [missing.status, missing.reason, missing.wwwAuthenticate],
      [401, "missing API key", 'Bearer realm="toolwatch"'],
    );
    const wrong = await gateway.authenticate({ authorization: "Bearer nope-nope-nope" }, REQUEST_URL);
    assert.ok(!wrong.ok);
    assert.equal(wrong.reason, "invalid API key");
    assert.equal(
      wrong.wwwAuthenticate,
      'Bearer realm="toolwatch", error="invalid_token", error_description="invalid API key"',
    );
  });

  test("a JWT-shaped value is matched as a key when no token validation is configured", async () => {
    const token = await signToken(HMAC);
    const result = await gateway.authenticate({ authorization: `Bearer ${token}` }, REQUEST_URL);
    assert.ok(!result.ok);
    assert.equal(result.reason, "invalid API key");
  });

  test("with nothing configured every request is anonymous", async () => {
    const open = new GatewayAuthenticator({ apiKeys: [], auth: undefined });
    assert.equal(open.anonymous, true);
    const result = await open.authenticate({ authorization: "Bearer anything" }, REQUEST_URL);
    assert.ok(result.ok);
    assert.deepEqual(result.principal, { user: null, agent: null, key: -1, method: "anonymous", binding: "anonymous" });
  });
});

describe("Protected Resource Metadata (RFC 9728)", () => {
  test("with a configured resource, every route and metadata path names it and its authorization servers", () => {
    const gateway = withTokens(API_KEYS, { jwt: { issuer: ISSUER, secret: SECRET, required_scopes: ["mcp:tools"] } });
    const expected = {
      resource: RESOURCE,
      authorization_servers: [ISSUER],
      bearer_methods_supported: ["header"],
      resource_name: "toolwatch gateway",
      scopes_supported: ["mcp:tools"],
    };
    for (const path of [
      "/.well-known/oauth-protected-resource",
      "/.well-known/oauth-protected-resource/mcp/files",
      "/mcp/files",
    ]) {
      assert.deepEqual(gateway.protectedResourceMetadata(new URL(path, "http://internal:8808")), expected, path);
    }
    assert.equal(
      gateway.metadataUrlFor(new URL("http://internal:8808/mcp/files")),
      "https://gw.example.com/.well-known/oauth-protected-resource/mcp",
      "the public resource URI decides where the metadata is, not the internal host",
    );
  });

  test("without one, the resource is derived from the request: origin plus route", () => {
    const gateway = withTokens(API_KEYS, {
      resource: undefined,
      jwt: { issuer: ISSUER, secret: SECRET, audience: "https://gw.example.com/mcp" },
    });
    const base = "http://127.0.0.1:8808";
    assert.equal(gateway.protectedResourceMetadata(new URL("/mcp/files", base)).resource, `${base}/mcp/files`);
    assert.equal(
      gateway.protectedResourceMetadata(new URL("/.well-known/oauth-protected-resource/mcp/files", base)).resource,
      `${base}/mcp/files`,
    );
    assert.equal(
      gateway.protectedResourceMetadata(new URL("/.well-known/oauth-protected-resource", base)).resource,
      base,
    );
    assert.equal(
      gateway.metadataUrlFor(new URL("/mcp/files", base)),
      `${base}/.well-known/oauth-protected-resource/mcp/files`,
    );
  });
});

describe("gateway.auth schema", () => {
  const reject = (value: unknown, message: RegExp) => {
    const result = gatewayAuthSchema.safeParse(value);
    assert.ok(!result.success, JSON.stringify(value));
    assert.match(result.error.issues.map((issue) => issue.message).join("; "), message);
  };

  test("the documented example parses from YAML with its defaults", () => {
    const yaml = [
      "resource: https://gw.example.com/mcp",
      "authorization_servers: [https://auth.example.com]",
      "jwt:",
      "  issuer: https://auth.example.com",
      "  jwks_url: https://auth.example.com/.well-known/jwks.json",
      "  algorithms: [RS256, ES256]",
      "  clock_tolerance: 1m",
      "  agent_claim: role",
      '  agent_map: { "support-bot-client": support }',
      "  required_scopes: [mcp:tools]",
    ].join("\n");
    const parsed = parseYamlFile(gatewayAuthSchema, yaml, "toolwatch.yaml");
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
    assert.equal(parsed.value.jwt?.clock_tolerance, 60_000);
    assert.equal(parsed.value.jwt?.user_claim, "sub");
    assert.deepEqual(parsed.value.jwt?.agent_map, { "support-bot-client": "support" });
  });

  test("key sources, algorithms, audience and URLs are checked", () => {
    const jwt = { issuer: ISSUER, audience: RESOURCE };
    reject({ jwt }, /exactly one of jwks_url, public_key or secret/);
    reject({ jwt: { ...jwt, secret: SECRET, jwks_url: "https://auth.example.com/jwks" } }, /exactly one/);
    reject(
      { jwt: { ...jwt, jwks_url: "https://auth.example.com/jwks", algorithms: ["HS256"] } },
      /HS256 needs a shared secret/,
    );
    reject({ jwt: { ...jwt, secret: SECRET, algorithms: ["RS256"] } }, /RS256 needs a public key/);
    reject({ jwt: { ...jwt, secret: "short" } }, /at least 32 characters/);
    reject({ jwt: { ...jwt, jwks_url: "http://auth.example.com/jwks" } }, /https/);
    reject({ jwt: { issuer: ISSUER, secret: SECRET } }, /give jwt.audience or auth.resource/);
    reject({ jwt: { ...jwt, secret: SECRET, algorithms: ["none"] } }, /./);
    assert.ok(gatewayAuthSchema.safeParse({ jwt: { ...jwt, jwks_url: "http://127.0.0.1:9000/jwks" } }).success);
  });
});
