import { z } from "zod";

/**
 * A JSON object read as a Map of its entries, each value checked by `value` (an issue's path names the key).
 *
 * For objects keyed by names from traffic (agent types, tools), where z.record will not do: it skips a `__proto__`
 * key, neither checking nor keeping it, as a property of that name would replace an object's prototype. JSON.parse
 * makes it an ordinary key, and a tool may be named so; a Map holds it like any other.
 */
export function jsonMap<T extends z.ZodType>(value: T) {
  return z.preprocess(
    (input) => (isPlainObject(input) ? new Map(Object.entries(input)) : input),
    z.map(z.string(), value, {
      error: (issue) => `Invalid input: expected object, received ${describeType(issue.input)}`,
    }),
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Map);
}

function describeType(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}

/**
 * The JSON form of a value read through {@link jsonMap}: its Maps as plain objects. What a detector's save writes.
 * Write such objects with `Object.fromEntries`, which makes every key an own property; assigning `object[key]`
 * would set the prototype for a key named `__proto__`, and the entry would be lost.
 */
export type JsonForm<T> =
  T extends Map<string, infer V>
    ? Record<string, JsonForm<V>>
    : T extends readonly unknown[]
      ? { [K in keyof T]: JsonForm<T[K]> }
      : T extends object
        ? { [K in keyof T]: JsonForm<T[K]> }
        : T;
