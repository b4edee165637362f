import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { ToolwatchConfig } from "../config/config.js";
import type { GatewayAuthSettings } from "../config/gateway-auth-settings.js";
import { JwtVerifier, type JwtVerifierOptions, looksLikeJwt, MAX_TOKEN_LENGTH } from "./jwt-verifier.js";

/** Who is behind a gateway request, as its API key or access token says. */
export interface Principal {
  user: string | null;
  agent: string | null;
  /** Index of the key in `gateway.api_keys`; `-1` for anonymous and token principals. */
  key: number;
  /** How they authenticated. */
  method: "anonymous" | "api_key" | "jwt";
  /**
   * What a session is bound to: the key index, or the token's issuer and subject. A session created
   * by one principal may be used only by requests with the same binding.
   */
  binding: string;
}

/** The outcome of an API-key check: a value, never an exception. */
export type ApiKeyCheck = { ok: true; principal: Principal } | { ok: false; reason: string };

/**
 * The outcome of authenticating a request: a value, never an exception. `reason` goes into the record
 * and never holds the credential; `wwwAuthenticate` is the challenge the MCP authorization spec
 * prescribes for the answer (RFC 6750 and RFC 9728).
 */
export type Authentication =
  | { ok: true; principal: Principal }
  | { ok: false; status: 401 | 403; reason: string; wwwAuthenticate: string };

/** Where the Protected Resource Metadata (RFC 9728) is served; a resource's path may follow it. */
export const PROTECTED_RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource";

/** Longest credential looked at; anything longer cannot be a configured key and is refused unread. */
const MAX_KEY_LENGTH = 1024;

/** Longest Authorization header read at all; longer is refused as malformed. */
const MAX_AUTHORIZATION_LENGTH = MAX_TOKEN_LENGTH + 64;

const ANONYMOUS_PRINCIPAL: Principal = { user: null, agent: null, key: -1, method: "anonymous", binding: "anonymous" };

/**
 * Matches `Authorization: Bearer <key>` or `X-API-Key: <key>` against `gateway.api_keys`.
 *
 * Every key is kept only as its SHA-256 digest, and a presented key is hashed and compared with
 * every digest in constant time, so neither the length nor the position of a match shows in timing.
 */
export class ApiKeyVerifier {
  private readonly digests: Buffer[];
  private readonly principals: Principal[];

  constructor(keys: ToolwatchConfig["gateway"]["api_keys"]) {
    this.digests = keys.map((entry) =>
      entry.key_sha256 !== undefined ? Buffer.from(entry.key_sha256, "hex") : sha256(entry.key ?? ""),
    );
    this.principals = keys.map((entry, index) => ({
      user: entry.user,
      agent: entry.agent ?? null,
      key: index,
      method: "api_key",
      binding: `api_key:${index}`,
    }));
  }

  /** True when no key is configured and every request is let in as an anonymous principal. */
  get anonymous(): boolean {
    return this.digests.length === 0;
  }

  /** Checks the request's key from its headers. */
  verify(headers: IncomingHttpHeaders): ApiKeyCheck {
    if (this.anonymous) return { ok: true, principal: ANONYMOUS_PRINCIPAL };
    const presented = presentedCredential(headers);
    if (presented === null) return { ok: false, reason: "missing API key" };
    return this.match(presented);
  }

  /** Checks one presented key. */
  match(presented: string): ApiKeyCheck {
    if (presented.length === 0 || presented.length > MAX_KEY_LENGTH || this.anonymous)
      return { ok: false, reason: "invalid API key" };
    const digest = sha256(presented);
    let match = -1;
    // No early exit: the comparison count must not depend on which key matched.
    for (let index = 0; index < this.digests.length; index++) {
      if (timingSafeEqual(digest, this.digests[index]!) && match === -1) match = index;
    }
    if (match === -1) return { ok: false, reason: "invalid API key" };
    return { ok: true, principal: this.principals[match]! };
  }
}

/** Options of a {@link GatewayAuthenticator}. */
export interface GatewayAuthenticatorOptions {
  apiKeys: ToolwatchConfig["gateway"]["api_keys"];
  /** `gateway.auth`; absent means API keys only, as before. */
  auth: GatewayAuthSettings | undefined;
  /** Fetches the JWKS (tests and proxies inject one). */
  fetch?: typeof fetch;
  /** JWKS refetch cooldown and timeout, for tests; jose's defaults (30 s, 5 s) otherwise. */
  jwksCooldownMs?: number;
  jwksTimeoutMs?: number;
}

/**
 * Authenticates gateway requests by API key and by OAuth 2.1 access token (JWT), as an MCP resource
 * server. A bearer value shaped like a JWT (three base64url segments) is validated as a token when
 * `gateway.auth.jwt` is configured; any other value (and `X-API-Key`) is matched against the API keys.
 */
export class GatewayAuthenticator {
  private readonly apiKeys: ApiKeyVerifier;
  private readonly auth: GatewayAuthSettings | undefined;
  private readonly jwt: JwtVerifier | null;
  private readonly requiredScope: string;

  /** Throws a `config_invalid` ToolwatchError when the configured public key cannot be read. */
  constructor(options: GatewayAuthenticatorOptions) {
    this.apiKeys = new ApiKeyVerifier(options.apiKeys);
    this.auth = options.auth;
    const verifierOptions: JwtVerifierOptions = {};
    if (options.auth?.resource !== undefined) verifierOptions.resource = options.auth.resource;
    if (options.fetch !== undefined) verifierOptions.fetch = options.fetch;
    if (options.jwksCooldownMs !== undefined) verifierOptions.jwksCooldownMs = options.jwksCooldownMs;
    if (options.jwksTimeoutMs !== undefined) verifierOptions.jwksTimeoutMs = options.jwksTimeoutMs;
    this.jwt = options.auth?.jwt === undefined ? null : new JwtVerifier(options.auth.jwt, verifierOptions);
    this.requiredScope = options.auth?.jwt?.required_scopes.join(" ") ?? "";
  }

  /** True when neither API keys nor tokens are configured and every request is let in anonymously. */
  get anonymous(): boolean {
    return this.apiKeys.anonymous && this.jwt === null;
  }

  /** Whether access tokens are accepted (and the Protected Resource Metadata is worth serving). */
  get acceptsTokens(): boolean {
    return this.jwt !== null;
  }

  /**
   * Authenticates one request from its headers. `requestUrl` is the URL the client used (for the
   * resource metadata link in the challenge). Never throws; the JWKS is fetched lazily and cached.
   */
  async authenticate(headers: IncomingHttpHeaders, requestUrl: URL): Promise<Authentication> {
    if (this.anonymous) return { ok: true, principal: ANONYMOUS_PRINCIPAL };
    const authorization = headers.authorization;
    let presented: string;
    let fromAuthorization = false;
    if (authorization !== undefined) {
      if (authorization.length > MAX_AUTHORIZATION_LENGTH)
        return this.refuse(requestUrl, "malformed Authorization header");
      // RFC 6750's b64token is visible ASCII; anything else cannot be a credential of ours.
      const match = /^Bearer[ \t]+([\x21-\x7e]+)[ \t]*$/i.exec(authorization);
      if (match === null) return this.refuse(requestUrl, "malformed Authorization header");
      presented = match[1]!;
      fromAuthorization = true;
    } else {
      const apiKey = headers["x-api-key"];
      if (typeof apiKey !== "string") {
        return this.refuse(requestUrl, this.jwt === null ? "missing API key" : "missing credentials", false);
      }
      presented = apiKey.trim();
    }
    if (fromAuthorization && this.jwt !== null && looksLikeJwt(presented)) {
      let check: Awaited<ReturnType<JwtVerifier["verify"]>>;
      try {
        check = await this.jwt.verify(presented);
      } catch {
        // verify returns values; this guards the promise that authenticate never rejects.
        check = { ok: false, error: "invalid_token", reason: "token invalid" };
      }
      if (check.ok) {
        const { user, agent, issuer } = check.identity;
        return {
          ok: true,
          principal: { user, agent, key: -1, method: "jwt", binding: `jwt:${JSON.stringify([issuer, user])}` },
        };
      }
      if (check.error === "insufficient_scope") {
        return {
          ok: false,
          status: 403,
          reason: "insufficient scope",
          wwwAuthenticate: this.challenge(requestUrl, {
            error: "insufficient_scope",
            error_description: check.reason,
            scope: check.scope,
          }),
        };
      }
      return this.refuse(requestUrl, check.reason);
    }
    if (this.apiKeys.anonymous) return this.refuse(requestUrl, "malformed token");
    const result = this.apiKeys.match(presented);
    if (result.ok) return result;
    return this.refuse(requestUrl, result.reason);
  }

  /**
   * The RFC 9728 Protected Resource Metadata document for the resource `requestUrl` belongs to:
   * either a metadata URL (`/.well-known/oauth-protected-resource[/mcp/<server>]`) or a gateway route.
   */
  protectedResourceMetadata(requestUrl: URL): Record<string, unknown> {
    const document: Record<string, unknown> = {
      resource: this.resourceFor(requestUrl),
      authorization_servers: this.auth?.authorization_servers ?? [],
      bearer_methods_supported: ["header"],
      resource_name: "toolwatch gateway",
    };
    if (this.requiredScope.length > 0) document.scopes_supported = this.requiredScope.split(" ");
    return document;
  }

  /**
   * The canonical URI of the protected resource: `gateway.auth.resource` when configured, else the
   * request's origin and route (`/mcp/<server>`), as RFC 8707 and RFC 9728 derive it.
   */
  resourceFor(requestUrl: URL): string {
    if (this.auth?.resource !== undefined) return this.auth.resource;
    let path = requestUrl.pathname;
    if (path === PROTECTED_RESOURCE_METADATA_PATH || path.startsWith(`${PROTECTED_RESOURCE_METADATA_PATH}/`)) {
      path = path.slice(PROTECTED_RESOURCE_METADATA_PATH.length);
    }
    return `${requestUrl.origin}${path === "/" ? "" : path}`;
  }

  /** Where the metadata of `requestUrl`'s resource is served: the well-known path inserted before the resource's path. */
  metadataUrlFor(requestUrl: URL): string {
    const resource = new URL(this.resourceFor(requestUrl));
    const path = resource.pathname === "/" ? "" : resource.pathname;
    return `${resource.origin}${PROTECTED_RESOURCE_METADATA_PATH}${path}`;
  }

  private refuse(requestUrl: URL, reason: string, presented = true): Authentication {
    const parameters: Record<string, string> = {};
    // RFC 6750 §3.1: a request without credentials gets no error code, only the challenge.
    if (presented) {
      parameters.error = "invalid_token";
      parameters.error_description = reason;
    } else if (this.requiredScope.length > 0) {
      parameters.scope = this.requiredScope;
    }
    return { ok: false, status: 401, reason, wwwAuthenticate: this.challenge(requestUrl, parameters) };
  }

  /** `Bearer realm="toolwatch", …`, with `resource_metadata` when tokens are accepted (MCP authorization). */
  private challenge(requestUrl: URL, parameters: Record<string, string>): string {
    const all: Record<string, string> = { realm: "toolwatch", ...parameters };
    if (this.auth !== undefined) all.resource_metadata = this.metadataUrlFor(requestUrl);
    return `Bearer ${Object.entries(all)
      .map(([name, value]) => `${name}="${quoted(value)}"`)
      .join(", ")}`;
  }
}

/** An auth-param value as a quoted-string: printable ASCII only (RFC 6750), quotes and backslashes escaped. */
function quoted(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, "").replace(/["\\]/g, "\\$&");
}

function presentedCredential(headers: IncomingHttpHeaders): string | null {
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    return match === null ? "" : match[1]!;
  }
  const apiKey = headers["x-api-key"];
  if (typeof apiKey === "string") return apiKey.trim();
  return null;
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
