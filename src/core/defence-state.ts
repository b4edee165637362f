import type { ToolDefinition } from "./exchange.js";

/**
 * A tool's pinned definition: what the server advertised the first time toolwatch saw it (or what an
 * operator approved since), and the different definition it advertises now, if any.
 */
export interface ToolPin {
  server: string;
  tool: string;
  /** Hash of the approved definition (name, description, input schema), `sha256:<hex>`. */
  hash: string;
  definition: ToolDefinition;
  /** RFC 3339: when this definition was pinned or approved. */
  pinned_at: string;
  /** Hash of a later, different definition the server advertised; `null` while it still matches the pin. */
  changed_hash: string | null;
  changed_definition: ToolDefinition | null;
  changed_at: string | null;
}

/** Where pins live. Synchronous: pins are read when a `tools/list` answer passes, on the forward path. */
export interface PinStore {
  /** Every pin of one server (or of all servers). */
  pins(server?: string): ToolPin[];
  /** Inserts or replaces the pin of `pin.server`/`pin.tool`. */
  savePin(pin: ToolPin): void;
}

/** Content inline defence withheld from the model, kept for the investigator. */
export interface QuarantinedContent {
  id: string;
  /** RFC 3339, event time of the answer that carried it. */
  time: string;
  session: string;
  server: string;
  tool: string | null;
  request_id: string | number | null;
  /** Why it was withheld (the detector's explanation). */
  reason: string;
  /** The withheld JSON-RPC result, as JSON text. */
  content: string;
}

export interface QuarantineQuery {
  session?: string;
  id?: string;
  limit?: number;
}

/** Where quarantined content is kept. */
export interface QuarantineStore {
  /** Keeps the content and returns its id. */
  quarantine(content: Omit<QuarantinedContent, "id">): string;
  quarantined(query?: QuarantineQuery): QuarantinedContent[];
}
