import { createHash } from "node:crypto";
import type { PinStore, ToolPin } from "../core/defence-state.js";
import type { InlineDecision, ToolDefinition } from "../core/exchange.js";

export interface ToolPinningOptions {
  /** Hide a changed tool and refuse calls to it until `toolwatch tools approve` accepts the change. */
  block_changed: boolean;
  /** How often (ms of wall time) a blocked tool's pin is re-read, so an approval by another process takes effect. */
  refresh_ms?: number;
}

/** What a `tools/list` answer changed against the pins. */
export interface PinCheck {
  decisions: InlineDecision[];
  /** Tools to hide from the client: changed while `block_changed` is on. */
  blocked: Set<string>;
}

/** Rule names written into decisions and findings. */
export const DEFINITION_CHANGED = "tool_definition_change";
export const TOOL_ADDED = "tool_added";

/**
 * Tool pinning: the first `tools/list` of a server pins every tool's definition by hash; a later change
 * (a "rug pull": a description that grows instructions, a schema that grows a field) is flagged and, with
 * `block_changed`, the tool is hidden and its calls refused until an operator approves it.
 *
 * Pins are cached per server and re-read from the store at every `tools/list` (rare, and another process
 * may have approved something), and at most every `refresh_ms` for a blocked tool that is being called.
 */
export class ToolPinning {
  private readonly cache = new Map<string, Map<string, ToolPin>>();
  private readonly lastRefresh = new Map<string, number>();
  /** Servers whose first, paginated listing is still coming in. */
  private readonly firstListing = new Set<string>();
  private readonly refreshMs: number;

  constructor(
    private readonly store: PinStore,
    private readonly options: ToolPinningOptions,
  ) {
    this.refreshMs = options.refresh_ms ?? 1_000;
  }

  /**
   * Compares a server's advertised tools with their pins, pinning what is new. `page` says where the answer sits
   * in a paginated listing: a continuation of the server's first listing pins its tools like the first page.
   */
  checkList(
    server: string,
    tools: ToolDefinition[],
    time: string,
    page: { continuation: boolean; more: boolean } = { continuation: false, more: false },
  ): PinCheck {
    const pins = this.load(server);
    const firstList = pins.size === 0 || (page.continuation && this.firstListing.has(server));
    if (firstList && page.more) this.firstListing.add(server);
    else if (!page.continuation || !page.more) this.firstListing.delete(server);
    const decisions: InlineDecision[] = [];
    const blocked = new Set<string>();
    for (const tool of tools) {
      const hash = definitionHash(tool);
      const pin = pins.get(tool.name);
      if (pin === undefined) {
        const fresh: ToolPin = {
          server,
          tool: tool.name,
          hash,
          definition: tool,
          pinned_at: time,
          changed_hash: null,
          changed_definition: null,
          changed_at: null,
        };
        this.store.savePin(fresh);
        pins.set(tool.name, fresh);
        // A tool that appears after the server's first list is a change of what the agent can do.
        if (!firstList) {
          decisions.push({
            stage: "pinning",
            action: "alert",
            rule: TOOL_ADDED,
            reason: `tool ${tool.name} appeared after the server's tools were pinned`,
          });
        }
        continue;
      }
      if (pin.hash === hash) {
        if (pin.changed_hash !== null) {
          // The server went back to the approved definition.
          const restored: ToolPin = { ...pin, changed_hash: null, changed_definition: null, changed_at: null };
          this.store.savePin(restored);
          pins.set(tool.name, restored);
        }
        continue;
      }
      if (pin.changed_hash !== hash) {
        const changed: ToolPin = { ...pin, changed_hash: hash, changed_definition: tool, changed_at: time };
        this.store.savePin(changed);
        pins.set(tool.name, changed);
      }
      const block = this.options.block_changed;
      if (block) blocked.add(tool.name);
      decisions.push({
        stage: "pinning",
        action: block ? "block" : "alert",
        rule: DEFINITION_CHANGED,
        reason: `tool ${tool.name} changed its ${describeChange(pin.definition, tool)} since it was pinned at ${pin.pinned_at}`,
      });
    }
    return { decisions, blocked };
  }

  /** Whether calls to this tool are held until an operator approves its new definition. */
  isBlocked(server: string, tool: string, now = Date.now()): boolean {
    if (!this.options.block_changed) return false;
    let pin = this.cache.get(server)?.get(tool);
    if (pin === undefined || pin.changed_hash === null) return false;
    const key = `${server}\u0000${tool}`;
    if (now - (this.lastRefresh.get(key) ?? 0) >= this.refreshMs) {
      this.lastRefresh.set(key, now);
      pin = this.load(server).get(tool);
      if (pin === undefined) return false;
    }
    return pin.changed_hash !== null;
  }

  private load(server: string): Map<string, ToolPin> {
    const pins = new Map<string, ToolPin>();
    for (const pin of this.store.pins(server)) pins.set(pin.tool, pin);
    this.cache.set(server, pins);
    return pins;
  }
}

/** `sha256:<hex>` of the parts of a definition that tell the model what a tool does and takes. */
export function definitionHash(tool: ToolDefinition): string {
  const canonical = canonicalJson({
    name: tool.name,
    description: tool.description ?? null,
    input_schema: tool.input_schema ?? null,
  });
  return `sha256:${createHash("sha256").update(canonical).digest("hex")}`;
}

/** JSON with object keys sorted, so equal definitions hash equally whatever order the server wrote. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function describeChange(before: ToolDefinition, after: ToolDefinition): string {
  const parts: string[] = [];
  if ((before.description ?? null) !== (after.description ?? null)) parts.push("description");
  if (canonicalJson(before.input_schema ?? null) !== canonicalJson(after.input_schema ?? null)) {
    parts.push("input schema");
  }
  return parts.length > 0 ? parts.join(" and ") : "definition";
}

/** Pins kept in memory: for replay, tests, and processes that run without a store. */
export class InMemoryPinStore implements PinStore {
  private readonly entries = new Map<string, ToolPin>();

  pins(server?: string): ToolPin[] {
    const all = [...this.entries.values()];
    return server === undefined ? all : all.filter((pin) => pin.server === server);
  }

  savePin(pin: ToolPin): void {
    this.entries.set(`${pin.server}\u0000${pin.tool}`, pin);
  }
}
