import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { ToolwatchConfig } from "../config/config.js";

/** Who is behind a gateway request, as the matching API key says. */
export interface Principal {
  user: string | null;
  agent: string | null;
  /** Index of the key in `gateway.api_keys`; `-1` when the gateway runs without keys. Binds a session to its key. */
  key: number;
}

/** The outcome of checking a request's credentials: a value, never an exception. */
export type Authentication = { ok: true; principal: Principal } | { ok: false; reason: string };

/** Longest credential looked at; anything longer cannot be a configured key and is refused unread. */
const MAX_KEY_LENGTH = 1024;

const ANONYMOUS: Authentication = { ok: true, principal: { user: null, agent: null, key: -1 } };

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
    this.principals = keys.map((entry, index) => ({ user: entry.user, agent: entry.agent ?? null, key: index }));
  }

  /** True when no key is configured and every request is let in as an anonymous principal. */
  get anonymous(): boolean {
    return this.digests.length === 0;
  }

  verify(headers: IncomingHttpHeaders): Authentication {
    if (this.anonymous) return ANONYMOUS;
    const presented = presentedKey(headers);
    if (presented === null) return { ok: false, reason: "missing API key" };
    if (presented.length === 0 || presented.length > MAX_KEY_LENGTH) return { ok: false, reason: "invalid API key" };
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

function presentedKey(headers: IncomingHttpHeaders): string | null {
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
