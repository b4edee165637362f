import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { parseDuration, parseSince } from "../config/duration.js";
import { OPERATOR_ACTION_NAMES, type OperatorAction } from "../core/operator-action.js";
import type { ActionQuery } from "../core/store.js";
import type { LiveRuntime } from "../runtime/live-runtime.js";
import type { Principal } from "./gateway-auth.js";
import { readBody } from "./request-body.js";

/** Where the admin API lives on the gateway. */
export const ADMIN_API_PREFIX = "/api/v1/";

/** Silences and alerts are small: a body this large is a mistake or an attack. */
const MAX_BODY_BYTES = 64 * 1024;
/** Most operator actions one `GET /api/v1/actions` answers with; narrow with `since`, `action` or `actor`. */
const MAX_ACTIONS_LISTED = 1000;

export interface AdminApiOptions {
  /** Its `store` keeps every change made through the API in the audit chain (`silence.add`, `silence.remove`). */
  runtime: Pick<LiveRuntime, "silences" | "activeAlerts" | "store">;
  /** Users (as the gateway authenticates them) allowed to use the API; nobody else, whatever their credential. */
  users: readonly string[];
  /** Told about every change made through the API, with who made it. */
  log: (line: string) => void;
}

/** Handles one authenticated request under {@link ADMIN_API_PREFIX}. */
export type AdminApiHandler = (request: IncomingMessage, response: ServerResponse, principal: Principal) => void;

const silenceBody = z
  .object({
    rule: z.string().min(1).max(200),
    /** Labels the alert must carry (`tool`, `source`, `session`...), each with this exact value. */
    matchers: z.record(z.string().min(1).max(100), z.string().max(500)).default({}),
    /** `2h`, `30m`, or milliseconds. */
    duration: z.union([z.string(), z.number()]).optional(),
    /** RFC 3339. */
    ends_at: z.string().optional(),
    comment: z.string().max(1000).optional(),
  })
  .strict()
  .refine((body) => (body.duration === undefined) !== (body.ends_at === undefined), {
    message: "give duration or ends_at, not both",
  });

/**
 * The gateway's admin API: alerts pending or firing, and silences (list, add, remove), for operators and
 * tools that cannot run the CLI on the gateway's host. Requests are authenticated as every gateway request is
 * (API key or bearer token); only the configured users may go further. Silences go to the same file the CLI
 * writes, so both see the same list; a silence added here holds notifications back at once.
 *
 * - `GET /api/v1/alerts`
 * - `GET /api/v1/silences`
 * - `POST /api/v1/silences` with `{rule, matchers?, duration | ends_at, comment?}`: 201 and the silence
 * - `DELETE /api/v1/silences/<id>`: 204, or 404
 * - `GET /api/v1/actions?since=&action=&actor=&limit=`: operator actions from the audit chain, oldest first
 *
 * Every change is appended to the store's audit chain with the authenticated user and the caller's address, and
 * the answer waits until the store has written it (or counted it as dropped), so the change can be audited as soon
 * as the caller hears it was made.
 */
export function createAdminApi(options: AdminApiOptions): AdminApiHandler {
  const handle = adminRoutes(options);
  // Nothing a request brings (a broken silences file, a bad body) may take the gateway down: 500, and on.
  return (request, response, principal) => {
    try {
      handle(request, response, principal);
    } catch (error) {
      failed(response, error);
    }
  };
}

function adminRoutes(options: AdminApiOptions): AdminApiHandler {
  const users = new Set(options.users);
  return (request, response, principal) => {
    if (principal.method === "anonymous" || principal.user === null || !users.has(principal.user)) {
      sendError(response, 403, "this credential may not use the admin API");
      return;
    }
    const path = (request.url ?? "/").split("?", 1)[0]!.slice(ADMIN_API_PREFIX.length);
    const method = request.method ?? "GET";
    if (path === "alerts") {
      if (method !== "GET") return notAllowed(response, "GET");
      sendJson(response, 200, { alerts: options.runtime.activeAlerts() });
      return;
    }
    if (path === "actions") {
      if (method !== "GET") return notAllowed(response, "GET");
      listActions(options, request, response);
      return;
    }
    const silences = options.runtime.silences;
    if (path === "silences" || path.startsWith("silences/")) {
      if (silences === null) {
        sendError(response, 404, "silences are not available: alert rules are off");
        return;
      }
      if (path === "silences") {
        if (method === "GET") {
          sendJson(response, 200, { silences: silences.list() });
          return;
        }
        if (method !== "POST") return notAllowed(response, "GET, POST");
        readJsonBody(request, response, (value) => {
          const parsed = silenceBody.safeParse(value);
          if (!parsed.success) {
            const issue = parsed.error.issues[0]!;
            sendError(response, 400, `${issue.path.join(".") || "body"}: ${issue.message}`);
            return;
          }
          const body = parsed.data;
          const now = Date.now();
          let ends: number;
          if (body.duration !== undefined) {
            const duration = parseDuration(body.duration);
            ends = duration === null ? Number.NaN : now + duration;
          } else {
            ends = Date.parse(body.ends_at!);
          }
          if (!Number.isFinite(ends) || ends <= now) {
            sendError(
              response,
              400,
              "the silence must end in the future (a positive duration, or ends_at later than now)",
            );
            return;
          }
          let silence: ReturnType<typeof silences.add>;
          try {
            silence = silences.add({
              rule: body.rule,
              matchers: body.matchers,
              starts_at_ms: now,
              ends_at_ms: ends,
              created_by: principal.user!,
              ...(body.comment === undefined ? {} : { comment: body.comment }),
            });
          } catch (error) {
            sendError(response, 500, `could not write ${silences.file}: ${(error as Error).message}`);
            return;
          }
          options.log(`admin API: ${principal.user} silenced ${silence.rule} until ${silence.ends_at} (${silence.id})`);
          audited(options, request, response, principal, "silence.add", silence.id, { silence }, () =>
            sendJson(response, 201, silence),
          );
        });
        return;
      }
      // Ids are plain letters and digits: the raw segment is checked, never URI-decoded (a malformed escape
      // would throw).
      const id = path.slice("silences/".length);
      if (method !== "DELETE") return notAllowed(response, "DELETE");
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
        sendError(response, 404, "no such silence");
        return;
      }
      const silence = silences.list().find((candidate) => candidate.id === id);
      if (silence === undefined || !silences.remove(id)) {
        sendError(response, 404, "no such silence");
        return;
      }
      options.log(`admin API: ${principal.user} removed silence ${id}`);
      audited(options, request, response, principal, "silence.remove", id, { silence }, () => {
        response.writeHead(204);
        response.end();
      });
      return;
    }
    sendError(response, 404, "no such admin resource");
  };
}

const actionsQuery = z
  .object({
    /** `1h`, `7d`, or an RFC 3339 time. */
    since: z.string().max(64).optional(),
    action: z.enum(OPERATOR_ACTION_NAMES).optional(),
    actor: z.string().min(1).max(200).optional(),
    limit: z.coerce.number().int().min(1).max(MAX_ACTIONS_LISTED).default(MAX_ACTIONS_LISTED),
  })
  .strict();

/** The operator actions the store holds, filtered by the query string; the oldest first, at most `limit`. */
function listActions(options: AdminApiOptions, request: IncomingMessage, response: ServerResponse): void {
  const store = options.runtime.store;
  if (store === null) {
    sendError(response, 404, "operator actions are not available: the gateway runs without a store");
    return;
  }
  const search = new URL(request.url ?? "/", "http://gateway").searchParams;
  const parsed = actionsQuery.safeParse(Object.fromEntries(search));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    sendError(response, 400, `${issue.path.join(".") || "query"}: ${issue.message}`);
    return;
  }
  const query: ActionQuery = { limit: parsed.data.limit };
  if (parsed.data.action !== undefined) query.action = parsed.data.action;
  if (parsed.data.actor !== undefined) query.actor = parsed.data.actor;
  if (parsed.data.since !== undefined) {
    try {
      query.since_ms = parseSince(parsed.data.since, Date.now());
    } catch (error) {
      sendError(response, 400, `since: ${(error as Error).message}`);
      return;
    }
  }
  store
    .actions(query)
    .then((actions) => sendJson(response, 200, { actions }))
    .catch((error: unknown) => failed(response, error));
}

/** Appends the change to the audit chain, then answers once the store has it (or has counted it as dropped). */
function audited(
  options: AdminApiOptions,
  request: IncomingMessage,
  response: ServerResponse,
  principal: Principal,
  action: OperatorAction["action"],
  target: string,
  detail: Record<string, unknown>,
  answer: () => void,
): void {
  const store = options.runtime.store;
  if (store === null) {
    answer();
    return;
  }
  const source = request.socket.remoteAddress;
  store.appendAction({
    time: new Date().toISOString(),
    actor: principal.user ?? "anonymous",
    via: "admin_api",
    action,
    target,
    ...(source === undefined ? {} : { source }),
    detail,
  });
  // Outside the request's try: an answer that throws (the client went away) must not become an unhandled rejection.
  const reply = (): void => {
    try {
      answer();
    } catch (error) {
      failed(response, error);
    }
  };
  store.forceFlush().then(reply, reply);
}

function readJsonBody(request: IncomingMessage, response: ServerResponse, then: (value: unknown) => void): void {
  readBody(request, MAX_BODY_BYTES, (body) => {
    if (body === null) {
      sendError(response, 413, `the body is larger than ${MAX_BODY_BYTES} bytes`, { connection: "close" });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(body.toString("utf8"));
    } catch {
      sendError(response, 400, "the body is not JSON");
      return;
    }
    try {
      then(value);
    } catch (error) {
      failed(response, error);
    }
  });
  request.on("error", () => {
    if (!response.headersSent) sendError(response, 400, "the request body could not be read");
  });
}

function failed(response: ServerResponse, error: unknown): void {
  if (response.headersSent) response.end();
  else sendError(response, 500, `the admin API failed: ${(error as Error)?.message ?? String(error)}`);
}

function notAllowed(response: ServerResponse, allow: string): void {
  sendError(response, 405, `method not allowed (allowed: ${allow})`, { allow });
}

function sendError(
  response: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(response, status, { error: message }, headers);
}

function sendJson(
  response: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    ...headers,
  });
  response.end(body);
}
