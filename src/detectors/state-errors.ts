import { z } from "zod";

/** Problems of a refused state written out in full; the rest are counted. */
const SHOWN_ISSUES = 3;

/**
 * Why zod refused a saved state (a baseline, a model), as `z.prettifyError` writes it, but only its first few
 * problems and a count of the others: a file broken throughout (numbers turned to strings by an editor, say) has a
 * problem per value, and an operator needs the first to see what happened, not a screen per detector.
 */
export function describeStateError(error: z.ZodError): string {
  const { issues } = error;
  if (issues.length <= SHOWN_ISSUES) return z.prettifyError(error);
  const more = issues.length - SHOWN_ISSUES;
  return `${z.prettifyError(new z.ZodError(issues.slice(0, SHOWN_ISSUES)))}\n(and ${more} more ${more === 1 ? "problem" : "problems"})`;
}
