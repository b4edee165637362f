import { z } from "zod";
import { parseDuration } from "./duration.js";

/*
 * The `gateway.auth` section of the configuration. It imports only zod and the duration parser so
 * that it can move into src/config unchanged (config may not import capture).
 */

/** Signature algorithms accepted with a public key or a JWKS: asymmetric only, so a public key can never be used as an HMAC secret. */
export const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
] as const;

/** Algorithms accepted with a shared `secret` (local use and tests). */
export const SYMMETRIC_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;

const algorithmSchema = z.enum([...ASYMMETRIC_ALGORITHMS, ...SYMMETRIC_ALGORITHMS]);

const durationSchema = z.union([z.string(), z.number()]).transform((value, context) => {
  const milliseconds = parseDuration(value);
  if (milliseconds === null) {
    context.addIssue({
      code: "custom",
      message: `expected a duration such as 30s or 2m, got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return milliseconds;
});

/** A URL that is https, or http on a loopback host (local authorization servers and tests). */
const secureUrl = z.url().refine(
  (text) => {
    const url = new URL(text);
    return url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url.hostname));
  },
  { message: "must be an https URL (http is accepted only for localhost and 127.0.0.1)" },
);

const jwtSchema = z
  .object({
    /** The `iss` every token must carry: the authorization server's issuer identifier. */
    issuer: z.string().min(1),
    /** The `aud` a token must carry (one of them); defaults to `gateway.auth.resource`. */
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    /** Where the authorization server publishes its signing keys. */
    jwks_url: secureUrl.optional(),
    /** A PEM (SPKI) public key or a JWK as JSON. */
    public_key: z.string().min(1).optional(),
    /** A shared HMAC secret (HS256/384/512), at least 32 characters; for local use and tests. */
    secret: z.string().min(32, { message: "an HMAC secret must be at least 32 characters" }).optional(),
    algorithms: z.array(algorithmSchema).min(1).optional(),
    clock_tolerance: durationSchema.default(30_000),
    /** The claim that names the user; `sub` by default. */
    user_claim: z.string().min(1).default("sub"),
    /** The claim that gives the agent type (role), when the authorization server issues one. */
    agent_claim: z.string().min(1).optional(),
    /** Maps a client id (`client_id` or `azp`) or a value of `agent_claim` to an agent type. */
    agent_map: z.record(z.string(), z.string().min(1)).default({}),
    /** Scopes every token must hold; a token without them gets 403 `insufficient_scope`. */
    required_scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/)).default([]),
  })
  .strict()
  .superRefine((value, context) => {
    const sources = [value.jwks_url, value.public_key, value.secret].filter((source) => source !== undefined);
    if (sources.length !== 1) {
      context.addIssue({ code: "custom", message: "give exactly one of jwks_url, public_key or secret" });
      return;
    }
    const symmetric = value.secret !== undefined;
    for (const algorithm of value.algorithms ?? []) {
      if (symmetric !== algorithm.startsWith("HS")) {
        context.addIssue({
          code: "custom",
          path: ["algorithms"],
          message: symmetric
            ? `${algorithm} needs a public key or JWKS; with a secret only HS256, HS384 and HS512 are allowed`
            : `${algorithm} needs a shared secret; with a public key or JWKS only asymmetric algorithms are allowed`,
        });
      }
    }
  });

/**
 * `gateway.auth`: the gateway as an OAuth 2.1 resource server (MCP authorization). With `jwt`
 * absent the gateway authenticates by `gateway.api_keys` only, as before.
 */
export const gatewayAuthSchema = z
  .object({
    /** The canonical URI of this resource (RFC 8707), such as `https://gw.example.com/mcp`; derived from the request's host when absent. */
    resource: z.url().optional(),
    /** The authorization servers listed in the Protected Resource Metadata (RFC 9728). */
    authorization_servers: z.array(z.url()).default([]),
    jwt: jwtSchema.optional(),
  })
  .strict()
  .superRefine((value, context) => {
    // A resource derived from the Host header is the client's choice, so it cannot be the audience check.
    if (value.jwt !== undefined && value.jwt.audience === undefined && value.resource === undefined) {
      context.addIssue({
        code: "custom",
        path: ["jwt", "audience"],
        message: "give jwt.audience or auth.resource: tokens must be checked against this resource's own URI",
      });
    }
  });

/** The parsed `gateway.auth` section. */
export type GatewayAuthSettings = z.infer<typeof gatewayAuthSchema>;
/** The parsed `gateway.auth.jwt` section. */
export type JwtSettings = NonNullable<GatewayAuthSettings["jwt"]>;

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}
