import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { SignJWT, UnsecuredJWT } from "jose";
import { type Authentication, GatewayAuthenticator } from "../../src/capture/gateway-auth.js";
import { gatewayAuthSchema } from "../../src/config/gateway-auth-settings.js";
import {
  deadUrl,
  ISSUER,
  type JwksServer,
  RESOURCE,
  signToken,
  startJwksServer,
  type TestKey,
  testKey,
} from "./jwt-test-issuer.js";

const REQUEST_URL = new URL("https://gw.example.com/mcp/files");
const METADATA = "https://gw.example.com/.well-known/oauth-protected-resource/mcp";

function authenticator(jwt: Record<string, unknown>, extra: Record<string, unknown> = {}): GatewayAuthenticator {
  const auth = gatewayAuthSchema.parse({
    resource: RESOURCE,
    authorization_servers: [ISSUER],
    jwt: { issuer: ISSUER, ...jwt },
    ...extra,
  });
  return new GatewayAuthenticator({ apiKeys: [], auth, jwksCooldownMs: 0, jwksTimeoutMs: 2_000 });
}

function bearer(token: string) {
  return { authorization: `Bearer ${token}` };
}

/** Asserts a refusal and that neither its reason nor its challenge carries the credential. */
function refused(result: Authentication, status: 401 | 403, reason: string | RegExp, credential: string) {
  assert.ok(!result.ok, "refused");
  assert.equal(result.status, status);
  if (typeof reason === "string") assert.equal(result.reason, reason);
  else assert.match(result.reason, reason);
  assert.ok(!result.reason.includes(credential) && !result.wwwAuthenticate.includes(credential), "no secret echoed");
  return result;
}

describe("JWT bearer tokens against a real JWKS endpoint", () => {
  let rsa: TestKey;
  let ec: TestKey;
  let jwks: JwksServer;
  let gateway: GatewayAuthenticator;

  before(async () => {
    rsa = await testKey("RS256", "rsa-1");
    ec = await testKey("ES256", "ec-1");
    jwks = await startJwksServer([rsa.publicJwk, ec.publicJwk]);
    gateway = authenticator({
      jwks_url: jwks.url,
      agent_claim: "role",
      agent_map: { "support-bot-client": "support", admin: "operator" },
    });
  });
  after(() => jwks.close());

  test("a valid RS256 or ES256 token gives the subject as user and the role claim as agent", async () => {
    const result = await gateway.authenticate(bearer(await signToken(rsa, { role: "banking" })), REQUEST_URL);
    assert.ok(result.ok);
    assert.deepEqual(result.principal, {
      user: "alice",
      agent: "banking",
      key: -1,
      method: "jwt",
      binding: `jwt:${JSON.stringify([ISSUER, "alice"])}`,
    });
    const mapped = await gateway.authenticate(
      bearer(await signToken(ec, { role: "admin" }, { subject: "bob" })),
      REQUEST_URL,
    );
    assert.ok(mapped.ok);
    assert.equal(mapped.principal.user, "bob");
    assert.equal(mapped.principal.agent, "operator", "agent_map translates the claim's value");
  });

  test("without the agent claim, the client id (client_id or azp) is mapped to an agent type", async () => {
    const byClientId = await gateway.authenticate(
      bearer(await signToken(rsa, { client_id: "support-bot-client" })),
      REQUEST_URL,
    );
    assert.ok(byClientId.ok);
    assert.equal(byClientId.principal.agent, "support");
    const byAzp = await gateway.authenticate(bearer(await signToken(rsa, { azp: "support-bot-client" })), REQUEST_URL);
    assert.ok(byAzp.ok);
    assert.equal(byAzp.principal.agent, "support");
    const unknownClient = await gateway.authenticate(bearer(await signToken(rsa, { client_id: "other" })), REQUEST_URL);
    assert.ok(unknownClient.ok);
    assert.equal(unknownClient.principal.agent, null);
  });

  test("an expired token is refused with invalid_token and the resource metadata link", async () => {
    const token = await signToken(rsa, {}, { expiresIn: Math.floor(Date.now() / 1000) - 120 });
    const result = refused(await gateway.authenticate(bearer(token), REQUEST_URL), 401, "token expired", token);
    assert.equal(
      result.wwwAuthenticate,
      `Bearer realm="toolwatch", error="invalid_token", error_description="token expired", resource_metadata="${METADATA}"`,
    );
  });

  test("a token just past expiry is still accepted within the clock tolerance", async () => {
    const token = await signToken(rsa, {}, { expiresIn: Math.floor(Date.now() / 1000) - 5 });
    assert.ok((await gateway.authenticate(bearer(token), REQUEST_URL)).ok);
  });

  test("a token for another resource or from another issuer is refused", async () => {
    const otherAudience = await signToken(rsa, {}, { audience: "https://other.example.com/mcp" });
    refused(
      await gateway.authenticate(bearer(otherAudience), REQUEST_URL),
      401,
      "token audience mismatch",
      otherAudience,
    );
    const otherIssuer = await signToken(rsa, {}, { issuer: "https://evil.example.com" });
    refused(await gateway.authenticate(bearer(otherIssuer), REQUEST_URL), 401, "token issuer mismatch", otherIssuer);
  });

  test("a token signed by another key under a published kid fails its signature check", async () => {
    const impostor = await testKey("RS256", "rsa-1");
    const token = await signToken(impostor);
    refused(await gateway.authenticate(bearer(token), REQUEST_URL), 401, "token signature invalid", token);
    // A signature cut from the token breaks it too.
    const tampered = `${token.slice(0, token.lastIndexOf(".") + 1)}${"A".repeat(20)}`;
    refused(
      await gateway.authenticate(bearer(tampered), REQUEST_URL),
      401,
      /token signature invalid|malformed/,
      tampered,
    );
  });

  test("an unknown kid refetches the JWKS, so a rotated key is accepted; a kid never published is refused", async () => {
    const rotated = await testKey("RS256", "rsa-2");
    const before = jwks.fetches;
    const token = await signToken(rotated);
    refused(await gateway.authenticate(bearer(token), REQUEST_URL), 401, "token signing key unknown", token);
    assert.equal(jwks.fetches, before + 1, "the unknown kid triggered one refetch");
    jwks.keys = [...jwks.keys, rotated.publicJwk];
    const accepted = await gateway.authenticate(bearer(token), REQUEST_URL);
    assert.ok(accepted.ok, "the rotated key is picked up by the refetch");
    assert.equal(jwks.fetches, before + 2);
  });

  test("a JWKS endpoint that is down or broken gives 401 with the reason, not a crash", async () => {
    const down = authenticator({ jwks_url: await deadUrl() });
    const token = await signToken(rsa);
    refused(await down.authenticate(bearer(token), REQUEST_URL), 401, "JWKS unavailable (fetch failed)", token);
    const broken = await startJwksServer([rsa.publicJwk]);
    broken.status = 500;
    try {
      const failing = authenticator({ jwks_url: broken.url });
      refused(
        await failing.authenticate(bearer(token), REQUEST_URL),
        401,
        /^JWKS unavailable \(Expected 200 OK/,
        token,
      );
      broken.status = 200;
      assert.ok((await failing.authenticate(bearer(token), REQUEST_URL)).ok, "recovers once the issuer is back");
    } finally {
      await broken.close();
    }
  });

  test("alg confusion: an HS256 token keyed with the public key is refused", async () => {
    const publicJwkText = JSON.stringify(rsa.publicJwk);
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256", kid: "rsa-1" })
      .setIssuer(ISSUER)
      .setAudience(RESOURCE)
      .setSubject("mallory")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(publicJwkText));
    refused(await gateway.authenticate(bearer(forged), REQUEST_URL), 401, "token algorithm not allowed", forged);
    const unsecured = new UnsecuredJWT({ sub: "mallory" }).setIssuer(ISSUER).setAudience(RESOURCE).encode();
    refused(
      await gateway.authenticate(bearer(unsecured), REQUEST_URL),
      401,
      /not allowed|malformed|not supported/,
      unsecured,
    );
  });

  test("a token without exp, or without the user claim, is refused", async () => {
    const noExpiry = await new SignJWT({})
      .setProtectedHeader({ alg: "RS256", kid: "rsa-1" })
      .setIssuer(ISSUER)
      .setAudience(RESOURCE)
      .setSubject("alice")
      .sign(rsa.privateKey);
    refused(await gateway.authenticate(bearer(noExpiry), REQUEST_URL), 401, /exp/, noExpiry);
    const noSubject = await new SignJWT({})
      .setProtectedHeader({ alg: "RS256", kid: "rsa-1" })
      .setIssuer(ISSUER)
      .setAudience(RESOURCE)
      .setExpirationTime("5m")
      .sign(rsa.privateKey);
    refused(
      await gateway.authenticate(bearer(noSubject), REQUEST_URL),
      401,
      "token has no usable sub claim",
      noSubject,
    );
  });
});

describe("static keys", () => {
  test("HS256 with a shared secret: the right secret passes, another fails", async () => {
    const secret = "a-local-test-secret-of-32-chars!";
    const gateway = authenticator({ secret });
    const key = { privateKey: new TextEncoder().encode(secret), alg: "HS256" };
    const result = await gateway.authenticate(bearer(await signToken(key)), REQUEST_URL);
    assert.ok(result.ok);
    assert.equal(result.principal.user, "alice");
    const wrong = await signToken({
      privateKey: new TextEncoder().encode("another-secret-also-32-characters"),
      alg: "HS256",
    });
    refused(await gateway.authenticate(bearer(wrong), REQUEST_URL), 401, "token signature invalid", wrong);
    // An RS256 token cannot pass a secret-only configuration.
    const rsa = await testKey("RS256", "k");
    const asymmetric = await signToken(rsa);
    refused(
      await gateway.authenticate(bearer(asymmetric), REQUEST_URL),
      401,
      "token algorithm not allowed",
      asymmetric,
    );
  });

  test("a PEM public key and a JWK public key both verify, and HS256 keyed with the PEM is refused", async () => {
    const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = pair.publicKey.export({ type: "spki", format: "pem" }).toString();
    const token = await signToken({ privateKey: pair.privateKey, alg: "RS256" });
    const byPem = authenticator({ public_key: pem });
    assert.ok((await byPem.authenticate(bearer(token), REQUEST_URL)).ok);
    const byJwk = authenticator({ public_key: JSON.stringify(pair.publicKey.export({ format: "jwk" })) });
    assert.ok((await byJwk.authenticate(bearer(token), REQUEST_URL)).ok);
    const confused = await signToken({ privateKey: new TextEncoder().encode(pem), alg: "HS256" });
    refused(await byPem.authenticate(bearer(confused), REQUEST_URL), 401, "token algorithm not allowed", confused);
    assert.throws(
      () => authenticator({ public_key: pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString() }),
      /private key/,
      "a private key in the config is refused at start",
    );
  });
});

describe("required scopes", () => {
  const secret = "scope-test-secret-of-32-characters";
  const key = { privateKey: new TextEncoder().encode(secret), alg: "HS256" };
  const gateway = authenticator({ secret, required_scopes: ["mcp:tools", "mcp:read"] });

  test("a token lacking a required scope gets 403 insufficient_scope naming the scopes", async () => {
    const token = await signToken(key, { scope: "mcp:tools openid" });
    const result = refused(await gateway.authenticate(bearer(token), REQUEST_URL), 403, "insufficient scope", token);
    assert.equal(
      result.wwwAuthenticate,
      `Bearer realm="toolwatch", error="insufficient_scope", error_description="insufficient scope (missing mcp:read)", scope="mcp:tools mcp:read", resource_metadata="${METADATA}"`,
    );
  });

  test("scopes from `scope` or an `scp` list satisfy the requirement", async () => {
    assert.ok(
      (await gateway.authenticate(bearer(await signToken(key, { scope: "mcp:read mcp:tools" })), REQUEST_URL)).ok,
    );
    assert.ok(
      (await gateway.authenticate(bearer(await signToken(key, { scp: ["mcp:read", "mcp:tools"] })), REQUEST_URL)).ok,
    );
  });

  test("a request without credentials gets a bare challenge with the scope and the metadata link", async () => {
    const result = await gateway.authenticate({}, REQUEST_URL);
    assert.ok(!result.ok);
    assert.equal(result.status, 401);
    assert.equal(result.reason, "missing credentials");
    assert.equal(
      result.wwwAuthenticate,
      `Bearer realm="toolwatch", scope="mcp:tools mcp:read", resource_metadata="${METADATA}"`,
    );
  });
});
