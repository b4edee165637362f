import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { test } from "node:test";
import type { CapturedExchange } from "../../src/core/exchange.js";
import {
  createRandom,
  type FuzzId,
  type FuzzLine,
  generateFuzzLines,
  randomChunks,
} from "../fixtures/fuzz-messages.js";
import { paths, startProxy } from "./proxy-harness.js";

// Reproduce a failure with TOOLWATCH_FUZZ_SEED=<seed> node --test dist/test/capture/stdio-proxy-fuzz.test.js
const SEED = Number(process.env.TOOLWATCH_FUZZ_SEED ?? 20_261_121);
const LINES_PER_SIDE = 50_000;
const LIMITS = { max_message_bytes: 64 * 1024, max_depth: 64 };

/** What the recorder must make of one side's lines, worked out from how they were built. */
class SideModel {
  readonly pending = new Set<FuzzId>();
  protocolErrors = 0;
  notifications = 0;
  cancelled = 0;
  forwarded = 0;
  refusedByCode = new Map<number, number>();

  apply(line: FuzzLine): void {
    if (line.forwarded === null) {
      this.protocolErrors++;
      this.refusedByCode.set(line.refusal_code!, (this.refusedByCode.get(line.refusal_code!) ?? 0) + 1);
      return;
    }
    this.forwarded++;
    for (const message of line.messages) {
      if (message.type === "request") {
        if (this.pending.has(message.id)) this.protocolErrors++;
        else this.pending.add(message.id);
      } else if (message.type === "notification") {
        if (message.cancels !== null && this.pending.delete(message.cancels)) this.cancelled++;
        this.notifications++;
      } else {
        // Responses only ever answer ids nobody asked for.
        this.protocolErrors++;
      }
    }
  }
}

function tally(records: CapturedExchange[], direction: string): Record<string, number> {
  const counts: Record<string, number> = { protocol_error: 0, notification: 0, cancelled: 0, transport: 0, other: 0 };
  for (const record of records) {
    if (record.direction !== direction) continue;
    if (record.kind === "protocol_error") counts.protocol_error!++;
    else if (record.kind === "notification") counts.notification!++;
    else if (record.error?.type === "cancelled") counts.cancelled!++;
    else if (record.error?.type === "transport") counts.transport!++;
    else counts.other!++;
  }
  return counts;
}

test(`fuzz: ${2 * LINES_PER_SIDE} random and malformed lines both ways, every one accounted for (seed ${SEED})`, async () => {
  const options = { seed: SEED, count: LINES_PER_SIDE, ...LIMITS };
  const clientLines = generateFuzzLines({ ...options, side: "client" });
  const serverLines = generateFuzzLines({ ...options, side: "server" });
  const client = new SideModel();
  const server = new SideModel();
  for (const line of clientLines) client.apply(line);
  for (const line of serverLines) server.apply(line);

  const harness = startProxy({
    command: process.execPath,
    args: [
      paths.fuzzPeer,
      String(SEED),
      String(LINES_PER_SIDE),
      String(LIMITS.max_message_bytes),
      String(LIMITS.max_depth),
    ],
    capture: { ...LIMITS, request_timeout: 3_600_000 },
    max_pending_requests: Number.MAX_SAFE_INTEGER,
  });
  const input = Buffer.concat(clientLines.map((line) => line.bytes));
  for (const chunk of randomChunks(input, createRandom(SEED + 2))) {
    if (!harness.input.write(chunk)) await once(harness.input, "drain");
  }
  harness.input.end();
  assert.equal(await harness.done, 0, `seed ${SEED}: the peer exits 0 and so does the proxy`);

  // Server → client: the forwarded server lines arrive in order and byte for byte; everything else is a proxy answer.
  const expectedServer = serverLines.filter((line) => line.forwarded !== null).map((line) => line.forwarded!);
  let next = 0;
  let stats: { lines: number; bytes: number; sha256: string } | undefined;
  const answers = new Map<number, number>();
  for (const line of harness.reader.lines) {
    const expected = expectedServer[next];
    if (expected !== undefined && line.equals(expected.subarray(0, expected.length - 1))) {
      next++;
      continue;
    }
    const message = JSON.parse(line.toString("utf8")) as Record<string, unknown>;
    if (message.method === "fuzz/stats") {
      assert.equal(next, expectedServer.length, `seed ${SEED}: the peer's last word comes after all its lines`);
      stats = message.params as typeof stats;
      continue;
    }
    assert.deepEqual(Object.keys(message).sort(), ["error", "id", "jsonrpc"], `seed ${SEED}: unexpected line ${line}`);
    const code = (message.error as { code: number }).code;
    answers.set(code, (answers.get(code) ?? 0) + 1);
  }
  assert.equal(next, expectedServer.length, `seed ${SEED}: server line ${next} never reached the client`);

  // Client → server: the peer received exactly the valid client lines, byte for byte.
  const expectedClient = Buffer.concat(
    clientLines.filter((line) => line.forwarded !== null).map((line) => line.forwarded!),
  );
  assert.ok(stats, `seed ${SEED}: the peer reported what it received`);
  assert.equal(stats.lines, client.forwarded, `seed ${SEED}: lines the server received`);
  assert.equal(stats.bytes, expectedClient.length, `seed ${SEED}: bytes the server received`);
  assert.equal(stats.sha256, createHash("sha256").update(expectedClient).digest("hex"), `seed ${SEED}: bytes differ`);

  // The proxy answered every refused client line with its code, and every request left pending when the server exited.
  assert.deepEqual(
    Object.fromEntries([...answers].sort()),
    Object.fromEntries(
      [...client.refusedByCode, [-32000, client.pending.size] as [number, number]]
        .filter(([, count]) => count > 0)
        .sort(),
    ),
    `seed ${SEED}: answers by code`,
  );

  const serverRefused = serverLines.length - expectedServer.length;
  assert.deepEqual(harness.proxy.counters(), {
    client_lines: clientLines.length,
    client_forwarded: client.forwarded,
    client_refused: clientLines.length - client.forwarded,
    server_lines: serverLines.length + 1,
    server_forwarded: expectedServer.length + 1,
    server_refused: serverRefused,
    server_late: 0,
    answered: clientLines.length - client.forwarded + client.pending.size,
    record_errors: 0,
    guard_refused: 0,
    guard_errors: 0,
  });

  // Every line is in the record: refusals, duplicates and stray responses as protocol errors.
  assert.deepEqual(tally(harness.records, "client_to_server"), {
    protocol_error: client.protocolErrors,
    notification: client.notifications,
    cancelled: client.cancelled,
    transport: client.pending.size,
    other: 0,
  });
  assert.deepEqual(tally(harness.records, "server_to_client"), {
    protocol_error: server.protocolErrors,
    notification: server.notifications + 1,
    cancelled: server.cancelled,
    transport: server.pending.size,
    other: 0,
  });
  assert.equal(harness.proxy.pendingRequests, 0);
});
