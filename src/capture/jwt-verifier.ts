import { createPublicKey, type KeyObject } from "node:crypto";
import {
  createRemoteJWKSet,
  customFetch,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  type ProtectedHeaderParameters,
} from "jose";
import { ASYMMETRIC_ALGORITHMS, type JwtSettings, SYMMETRIC_ALGORITHMS } from "../config/gateway-auth-settings.js";
import { ToolwatchError } from "../core/errors.js";

/** Longest bearer token looked at; real access tokens are a few kilobytes at most. */
export const MAX_TOKEN_LENGTH = 8 * 1024;

/** How many verified tokens are remembered, and for how long at most. */
const VERIFIED_CACHE_SIZE = 1024;
const VERIFIED_CACHE_MS = 60_000;

/** Three base64url segments: the compact JWS form an access token takes. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Longest user or agent name taken from a token; longer values are refused rather than cut. */
const MAX_NAME_LENGTH = 256;

/** Whether a bearer value has the shape of a JWT (and so goes to token validation rather than API-key matching). */
export function looksLikeJwt(value: string): boolean {
  return value.length <= MAX_TOKEN_LENGTH && JWT_SHAPE.test(value);
}

/** Who a valid token names. */
export interface TokenIdentity {
  user: string;
  agent: string | null;
  issuer: string;
  scopes: string[];
}

/**
 * The outcome of checking a token: a value, never an exception. `reason` is for the record and the
 * `error_description`; it never holds the token or any part of it.
 */
export type TokenCheck =
  | { ok: true; identity: TokenIdentity }
  | { ok: false; error: "invalid_token"; reason: string }
  | { ok: false; error: "insufficient_scope"; reason: string; scope: string };

/** Options of a {@link JwtVerifier} that are not configuration. */
export interface JwtVerifierOptions {
  /** The audience to require when `audience` is not configured: this resource's canonical URI. */
  resource?: string;
  /** Fetches the JWKS (tests and proxies inject one). */
  fetch?: typeof fetch;
  /** Least time between two JWKS fetches triggered by an unknown `kid`; jose's default is 30 s. */
  jwksCooldownMs?: number;
  /** How long a JWKS fetch may take; jose's default is 5 s. */
  jwksTimeoutMs?: number;
}

/** Marks a failure to obtain the signing keys, as opposed to a bad token. */
class JwksUnavailable extends Error {}

/**
 * Validates OAuth 2.1 access tokens as a resource server: signature (JWKS URL, static public key,
 * or a shared secret), issuer, audience, expiry (with a clock tolerance), and the required scopes.
 * The JWKS is fetched on first use and cached by jose; an unknown `kid` refetches it at most once per
 * cooldown, so rotated keys are picked up and a flood of forged kids cannot hammer the issuer.
 */
export class JwtVerifier {
  private readonly settings: JwtSettings;
  private readonly key: KeyObject | Uint8Array | JWTVerifyGetKey;
  private readonly algorithms: string[];
  private readonly audience: string | string[];

  /** Throws a `config_invalid` ToolwatchError when the configured key cannot be read. */
  constructor(settings: JwtSettings, options: JwtVerifierOptions = {}) {
    this.settings = settings;
    const audience = settings.audience ?? options.resource;
    if (audience === undefined) {
      throw new ToolwatchError("config_invalid", "gateway.auth.jwt: give jwt.audience or auth.resource");
    }
    this.audience = audience;
    this.algorithms = [
      ...(settings.algorithms ?? (settings.secret !== undefined ? SYMMETRIC_ALGORITHMS : ASYMMETRIC_ALGORITHMS)),
    ];
    if (settings.secret !== undefined) {
      this.key = new TextEncoder().encode(settings.secret);
    } else if (settings.public_key !== undefined) {
      this.key = readPublicKey(settings.public_key);
    } else {
      const remote = createRemoteJWKSet(new URL(settings.jwks_url!), {
        ...(options.jwksCooldownMs === undefined ? {} : { cooldownDuration: options.jwksCooldownMs }),
        ...(options.jwksTimeoutMs === undefined ? {} : { timeoutDuration: options.jwksTimeoutMs }),
        ...(options.fetch === undefined ? {} : { [customFetch]: options.fetch }),
      });
      this.key = async (header: ProtectedHeaderParameters, token) => {
        try {
          return await remote(header, token);
        } catch (error) {
          // An unknown kid is the token's fault; anything else is the key set's.
          if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys)
            throw error;
          throw new JwksUnavailable(jwksProblem(error), { cause: error });
        }
      };
    }
  }

  /**
   * Tokens already verified, until they expire or for a minute at most: an agent sends the same bearer
   * token with every request, and a signature check costs a quarter of a millisecond. Only successes are
   * kept, bounded in number, so a flood of bad tokens neither fills the cache nor skips a check.
   */
  private readonly verified = new Map<string, { check: TokenCheck; until_ms: number }>();

  /** Checks one compact JWT. Never throws. */
  async verify(token: string, now = Date.now()): Promise<TokenCheck> {
    if (!looksLikeJwt(token)) return invalid("malformed token");
    const cached = this.verified.get(token);
    if (cached !== undefined) {
      if (now < cached.until_ms) return cached.check;
      this.verified.delete(token);
    }
    let payload: JWTPayload;
    try {
      const options = {
        issuer: this.settings.issuer,
        audience: this.audience,
        algorithms: this.algorithms,
        clockTolerance: Math.round(this.settings.clock_tolerance / 1000),
        requiredClaims: ["exp"],
      };
      // The two overloads of jwtVerify differ only in the key's type.
      payload =
        typeof this.key === "function"
          ? (await jwtVerify(token, this.key, options)).payload
          : (await jwtVerify(token, this.key, options)).payload;
    } catch (error) {
      return invalid(tokenProblem(error));
    }
    const user = payload[this.settings.user_claim];
    if (typeof user !== "string" || user.length === 0 || user.length > MAX_NAME_LENGTH) {
      return invalid(`token has no usable ${this.settings.user_claim} claim`);
    }
    const scopes = scopesOf(payload);
    const missing = this.settings.required_scopes.filter((scope) => !scopes.includes(scope));
    if (missing.length > 0) {
      return {
        ok: false,
        error: "insufficient_scope",
        reason: `insufficient scope (missing ${missing.join(" ")})`,
        scope: this.settings.required_scopes.join(" "),
      };
    }
    const check: TokenCheck = {
      ok: true,
      identity: { user, agent: this.agentOf(payload), issuer: this.settings.issuer, scopes },
    };
    if (typeof payload.exp === "number") {
      if (this.verified.size >= VERIFIED_CACHE_SIZE) {
        const oldest = this.verified.keys().next().value;
        if (oldest !== undefined) this.verified.delete(oldest);
      }
      this.verified.set(token, { check, until_ms: Math.min(payload.exp * 1000, now + VERIFIED_CACHE_MS) });
    }
    return check;
  }

  /** The agent type: the agent claim (mapped when the map names its value), else the client id's mapping. */
  private agentOf(payload: JWTPayload): string | null {
    const map = this.settings.agent_map;
    const mapped = (value: unknown): string | null =>
      typeof value === "string" && Object.hasOwn(map, value) ? map[value]! : null;
    if (this.settings.agent_claim !== undefined) {
      const claim = payload[this.settings.agent_claim];
      const values = Array.isArray(claim) ? claim : [claim];
      for (const value of values) {
        const agent = mapped(value);
        if (agent !== null) return agent;
      }
      const first = values.find(
        (value): value is string => typeof value === "string" && value.length > 0 && value.length <= MAX_NAME_LENGTH,
      );
      if (first !== undefined) return first;
    }
    return mapped(payload.client_id) ?? mapped(payload.azp);
  }
}

function invalid(reason: string): TokenCheck {
  return { ok: false, error: "invalid_token", reason };
}

/** Scopes from `scope` (RFC 9068: space-separated) or `scp` (a list, as some issuers send). */
function scopesOf(payload: JWTPayload): string[] {
  const scopes: string[] = [];
  if (typeof payload.scope === "string") scopes.push(...payload.scope.split(" ").filter((scope) => scope.length > 0));
  const scp = payload.scp;
  if (Array.isArray(scp)) for (const scope of scp) if (typeof scope === "string") scopes.push(scope);
  if (typeof scp === "string") scopes.push(...scp.split(" ").filter((scope) => scope.length > 0));
  return scopes;
}

/** A reason for the record: what was wrong, in words, never the token or a claim's value. */
function tokenProblem(error: unknown): string {
  if (error instanceof JwksUnavailable) return error.message;
  if (error instanceof errors.JWTExpired) return "token expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "aud":
        return "token audience mismatch";
      case "iss":
        return "token issuer mismatch";
      case "nbf":
        return "token not yet valid";
      case "iat":
        return "token issued in the future";
      case "exp":
        return "token has no usable exp claim";
      default:
        return `token claim ${error.claim} invalid`;
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return "token signature invalid";
  if (error instanceof errors.JOSEAlgNotAllowed) return "token algorithm not allowed";
  if (error instanceof errors.JWKSNoMatchingKey) return "token signing key unknown";
  if (error instanceof errors.JWKSMultipleMatchingKeys) return "token signing key ambiguous";
  if (error instanceof errors.JOSENotSupported) return "token algorithm not supported";
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return "malformed token";
  // jose reports a key that does not fit the algorithm (an RSA key for ES256) as a TypeError.
  if (error instanceof TypeError) return "token algorithm does not match the key";
  return "token invalid";
}

function jwksProblem(error: unknown): string {
  if (error instanceof errors.JWKSTimeout) return "JWKS unavailable (timed out)";
  if (error instanceof errors.JWKSInvalid || error instanceof errors.JWKInvalid)
    return "JWKS unavailable (not a valid key set)";
  if (error instanceof errors.JOSEError) return `JWKS unavailable (${error.message})`;
  return "JWKS unavailable (fetch failed)";
}

/** A PEM (SPKI, or a certificate's key) or a JWK as JSON. */
function readPublicKey(text: string): KeyObject {
  try {
    const trimmed = text.trim();
    if (trimmed.startsWith("{")) {
      const jwk = JSON.parse(trimmed) as Record<string, unknown>;
      if ("d" in jwk) throw new Error("this JWK holds a private key; give the public key only");
      return createPublicKey({ key: jwk, format: "jwk" });
    }
    if (/PRIVATE KEY/.test(trimmed)) throw new Error("this PEM holds a private key; give the public key only");
    return createPublicKey(trimmed);
  } catch (error) {
    throw new ToolwatchError(
      "config_invalid",
      `gateway.auth.jwt.public_key is not a usable public key: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
