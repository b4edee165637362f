import assert from "node:assert/strict";
import { test } from "node:test";
import { LocalClock } from "../../../src/defence/policy/time-windows.js";
import { call, engineFor, verdict } from "./policy-helpers.js";

function engineWithWindows(zone: string | null, windows: string[]) {
  return engineFor([
    "version: 1",
    ...(zone ? [`time_zone: ${zone}`] : []),
    "policies:",
    "  - name: hours",
    "    time_windows:",
    ...windows.map((window) => `      - ${window}`),
  ]);
}

function at(engine: ReturnType<typeof engineFor>, iso: string): string {
  return verdict(engine.checkCall(call({ server: "crm", tool: "get", time_ms: Date.parse(iso) })));
}

test("office hours in UTC: from inclusive, to exclusive, listed days only", () => {
  const engine = engineWithWindows(null, ['{ days: [mon, tue, wed, thu, fri], from: "08:00", to: "19:00" }']);
  assert.equal(at(engine, "2026-03-02T08:00:00Z"), "allowed", "Monday 08:00");
  assert.equal(at(engine, "2026-03-02T18:59:59Z"), "allowed");
  assert.equal(at(engine, "2026-03-02T19:00:00Z"), "hours/time_windows");
  assert.equal(at(engine, "2026-03-02T07:59:59Z"), "hours/time_windows");
  assert.equal(at(engine, "2026-03-06T12:00:00Z"), "allowed", "Friday");
  assert.equal(at(engine, "2026-03-07T12:00:00Z"), "hours/time_windows", "Saturday");
  const refused = engine.checkCall(call({ server: "crm", tool: "get", time_ms: Date.parse("2026-03-08T12:34:00Z") }));
  assert.ok(
    !refused.allowed && refused.reason === "called at sun 12:34 UTC, outside every allowed time window of policy hours",
  );
  assert.equal(engine.isToolVisible({ user: "ada", agent: "support" }, "crm", "get"), true, "time does not hide tools");
});

test("a window that crosses midnight belongs to the day it starts on", () => {
  const engine = engineWithWindows(null, ['{ days: [fri], from: "22:00", to: "06:00" }']);
  assert.equal(at(engine, "2026-03-06T22:00:00Z"), "allowed", "Friday 22:00");
  assert.equal(at(engine, "2026-03-06T23:59:00Z"), "allowed");
  assert.equal(at(engine, "2026-03-07T00:00:00Z"), "allowed", "Saturday 00:00, still Friday's night");
  assert.equal(at(engine, "2026-03-07T05:59:00Z"), "allowed");
  assert.equal(at(engine, "2026-03-07T06:00:00Z"), "hours/time_windows");
  assert.equal(at(engine, "2026-03-06T05:00:00Z"), "hours/time_windows", "Friday early morning is Thursday's night");
  assert.equal(at(engine, "2026-03-07T22:30:00Z"), "hours/time_windows", "Saturday evening");
  const everyNight = engineWithWindows(null, ['{ from: "22:00", to: "06:00" }']);
  assert.equal(at(everyNight, "2026-03-03T03:00:00Z"), "allowed");
  assert.equal(at(everyNight, "2026-03-03T12:00:00Z"), "hours/time_windows");
  const wholeDay = engineWithWindows(null, ['{ days: [sat, sun], from: "00:00", to: "24:00" }']);
  assert.equal(at(wholeDay, "2026-03-07T23:59:59Z"), "allowed");
  assert.equal(at(wholeDay, "2026-03-08T00:00:00Z"), "allowed");
  assert.equal(at(wholeDay, "2026-03-09T00:00:00Z"), "hours/time_windows", "Monday");
});

test("several windows: any one admits; several policies with windows: each must admit", () => {
  const engine = engineWithWindows(null, ['{ from: "08:00", to: "12:00" }', '{ from: "13:00", to: "17:00" }']);
  assert.equal(at(engine, "2026-03-02T09:00:00Z"), "allowed");
  assert.equal(at(engine, "2026-03-02T12:30:00Z"), "hours/time_windows");
  assert.equal(at(engine, "2026-03-02T16:00:00Z"), "allowed");
  const both = engineFor([
    "version: 1",
    "policies:",
    "  - name: day",
    '    time_windows: [{ from: "08:00", to: "18:00" }]',
    "  - name: support-shift",
    "    match: { agent: support }",
    '    time_windows: [{ from: "12:00", to: "20:00" }]',
  ]);
  assert.equal(at(both, "2026-03-02T10:00:00Z"), "support-shift/time_windows");
  assert.equal(at(both, "2026-03-02T13:00:00Z"), "allowed");
  assert.equal(at(both, "2026-03-02T19:00:00Z"), "day/time_windows");
});

test("time windows are read in the policy's time zone, across daylight-saving changes", () => {
  const berlin = engineWithWindows("Europe/Berlin", [
    '{ days: [mon, tue, wed, thu, fri], from: "08:00", to: "19:00" }',
  ]);
  // Winter: Berlin is UTC+1.
  assert.equal(at(berlin, "2026-03-02T07:00:00Z"), "allowed", "08:00 in Berlin");
  assert.equal(at(berlin, "2026-03-02T06:59:00Z"), "hours/time_windows");
  assert.equal(at(berlin, "2026-03-02T17:59:00Z"), "allowed");
  assert.equal(at(berlin, "2026-03-02T18:00:00Z"), "hours/time_windows", "19:00 in Berlin");
  // Summer (after 29 March 2026): UTC+2.
  assert.equal(at(berlin, "2026-03-30T06:00:00Z"), "allowed", "08:00 CEST");
  assert.equal(at(berlin, "2026-03-30T05:59:00Z"), "hours/time_windows");
  // Friday 23:30 UTC is Saturday 00:30 in Berlin.
  assert.equal(at(berlin, "2026-03-06T23:30:00Z"), "hours/time_windows");
  const refused = berlin.checkCall(call({ server: "a", tool: "b", time_ms: Date.parse("2026-03-06T23:30:00Z") }));
  assert.ok(!refused.allowed && refused.reason.startsWith("called at sat 00:30 Europe/Berlin"));
  // Monday 22:00 UTC is Tuesday 07:00 in Tokyo (UTC+9, no DST).
  const tokyo = engineWithWindows("Asia/Tokyo", ['{ days: [tue], from: "07:00", to: "08:00" }']);
  assert.equal(at(tokyo, "2026-03-02T22:00:00Z"), "allowed");
  assert.equal(at(tokyo, "2026-03-02T23:00:00Z"), "hours/time_windows");
});

test("the local clock agrees with Intl on every quarter hour of a year in an odd zone", () => {
  const zone = "America/St_Johns"; // UTC-3:30, daylight saving at a local time that is not a whole UTC hour
  const clock = new LocalClock(zone);
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    weekday: "short",
    hour: "numeric",
    minute: "numeric",
    hourCycle: "h23",
  });
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  for (let time = Date.parse("2026-01-01T00:07:00Z"); time < Date.parse("2027-01-01T00:00:00Z"); time += 900_000) {
    const parts = Object.fromEntries(format.formatToParts(time).map((part) => [part.type, part.value]));
    const expected = { day: days.indexOf(parts.weekday!), minute: Number(parts.hour) * 60 + Number(parts.minute) };
    assert.deepEqual(clock.at(time), expected, new Date(time).toISOString());
  }
});
