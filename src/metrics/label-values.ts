/** The value that stands for every value past a label's cap. */
export const OTHER_LABEL_VALUE = "_other";
/** Label values are cut to this many characters: a tool name is the peer's to choose. */
export const MAXIMUM_LABEL_CHARACTERS = 128;

/**
 * Caps the distinct values of one label (tool names, server names, methods...), so that a peer
 * inventing names cannot grow memory or the Prometheus series without bound. The first `maximum`
 * distinct values are kept; later ones become {@link OTHER_LABEL_VALUE} and every exchange folded so
 * is counted in `overflow`.
 */
export class LabelValues {
  readonly label: string;
  readonly maximum: number;
  /** Exchanges whose value was folded into {@link OTHER_LABEL_VALUE}. */
  overflow = 0;
  private readonly admitted = new Set<string>();

  constructor(label: string, maximum: number) {
    this.label = label;
    this.maximum = Math.max(0, Math.floor(maximum));
  }

  /** Distinct values admitted so far. */
  get size(): number {
    return this.admitted.size;
  }

  /** The value to use for `value`: itself (cut to {@link MAXIMUM_LABEL_CHARACTERS}) while under the cap, else {@link OTHER_LABEL_VALUE}. */
  admit(value: string): string {
    const cut = value.length > MAXIMUM_LABEL_CHARACTERS ? value.slice(0, MAXIMUM_LABEL_CHARACTERS) : value;
    if (this.admitted.has(cut)) return cut;
    if (this.admitted.size < this.maximum) {
      this.admitted.add(cut);
      return cut;
    }
    this.overflow++;
    return OTHER_LABEL_VALUE;
  }
}
