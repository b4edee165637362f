import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";

/** A signing key of the test issuer, with its public JWK as published. */
export interface TestKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** Generates a key pair for `alg` with the given kid. */
export async function testKey(alg: "RS256" | "ES256" | "PS256", kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateKey, publicJwk };
}

export const ISSUER = "https://auth.example.com";
export const RESOURCE = "https://gw.example.com/mcp";

/** Signs an access token: issuer, audience and subject as the gateway expects, unless overridden. */
export async function signToken(
  key: { privateKey: Parameters<SignJWT["sign"]>[0]; alg: string; kid?: string },
  claims: JWTPayload = {},
  options: { issuer?: string; audience?: string | string[]; subject?: string; expiresIn?: string | number } = {},
): Promise<string> {
  const header = key.kid === undefined ? { alg: key.alg } : { alg: key.alg, kid: key.kid };
  return new SignJWT(claims)
    .setProtectedHeader(header)
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? RESOURCE)
    .setSubject(options.subject ?? "alice")
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? "5m")
    .sign(key.privateKey);
}

/** A real JWKS endpoint on 127.0.0.1: serves the keys it holds now and counts the fetches. */
export interface JwksServer {
  url: string;
  keys: JWK[];
  fetches: number;
  /** HTTP status to answer with instead of the key set (500 to play a broken issuer). */
  status: number;
  close(): Promise<void>;
}

export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  const state = { keys, fetches: 0, status: 200 };
  const server: Server = createServer((request, response) => {
    state.fetches++;
    if (request.url !== "/jwks.json" || state.status !== 200) {
      response.writeHead(state.status === 200 ? 404 : state.status).end();
      return;
    }
    const body = JSON.stringify({ keys: state.keys });
    response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    response.end(body);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    get keys() {
      return state.keys;
    },
    set keys(value: JWK[]) {
      state.keys = value;
    },
    get fetches() {
      return state.fetches;
    },
    get status() {
      return state.status;
    },
    set status(value: number) {
      state.status = value;
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  } as JwksServer;
}

/** A URL on 127.0.0.1 where nothing listens (a port that was just free). */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return `http://127.0.0.1:${port}/jwks.json`;
}
