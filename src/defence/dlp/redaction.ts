/** A span to mask, in UTF-16 code units, with the type written into its placeholder. */
export interface MaskSpan {
  start: number;
  end: number;
  type: string;
}

/** The placeholder a masked span becomes. */
export function redactionMarker(type: string): string {
  return `[REDACTED:${type}]`;
}

/** Replaces each span of `text` with `[REDACTED:<type>]`. Spans must be sorted and must not overlap. */
export function maskSpans(text: string, spans: readonly MaskSpan[]): string {
  if (spans.length === 0) return text;
  let masked = "";
  let cursor = 0;
  for (const span of spans) {
    masked += text.slice(cursor, span.start) + redactionMarker(span.type);
    cursor = span.end;
  }
  return masked + text.slice(cursor);
}
