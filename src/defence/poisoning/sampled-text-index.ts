/**
 * An index of entries keyed by long texts, for the memos that remember work done on tool results (poisoning
 * verdicts, flow fingerprints, DLP scans).
 *
 * The lookup is by a hash of a sample of the text (its length, its head and tail, and characters spread over the
 * rest), confirmed by comparing the whole text, so there is no collision to reason about: a text parsed from a new
 * event is a new string, and a `Map` keyed by it would hash every character of it first, which costs more than
 * the comparison. Texts that share a sample (a document whose timestamp changed) are told apart by the comparison,
 * a few at most per sample: past that, a sample's texts move to a `Map` keyed by the text itself, so no text can
 * make a lookup compare against many others.
 */

/** Texts up to this length are hashed whole; longer ones by a sample of about as many characters. */
const WHOLE_TEXT = 128;
const EDGE = 16;
const SPREAD = 96;
/** Texts that share a sample hash held in a list before they move to the `Map` keyed by text. */
const BUCKET_LIMIT = 4;

/**
 * A hash of `text`'s length and of a sample of its characters (all of them for a short text): what memos keyed by
 * long texts look up by, confirming a hit by comparing the whole text.
 */
export function sampleHash(text: string): number {
  const length = text.length;
  let hash = Math.imul(0x811c9dc5 ^ length, 0x01000193);
  if (length <= WHOLE_TEXT) {
    for (let index = 0; index < length; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
    return hash;
  }
  for (let index = 0; index < EDGE; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
  for (let index = length - EDGE; index < length; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
  const step = Math.floor((length - 2 * EDGE) / SPREAD);
  for (let index = EDGE; index < length - EDGE; index += step) {
    hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
  }
  return hash;
}

/** What the index holds: an entry knows its text and that text's {@link sampleHash}. */
export interface SampledText {
  readonly text: string;
  readonly sample: number;
}

/** Entries by the sample hash of their text; at most one entry per text. */
export class SampledTextIndex<Entry extends SampledText> {
  /** Entries by sample hash, a few per sample; the entries of a crowded sample by their text. */
  private readonly bySample = new Map<number, Entry[]>();
  private readonly crowdedSamples = new Map<number, number>();
  private readonly crowded = new Map<string, Entry>();

  /**
   * The entry for `text`, whose sample hash is `sample`, or `undefined`.
   * @param probe a string equal to `text` to compare the entries with: the very key an earlier lookup returned
   * makes the comparison one of references.
   */
  find(sample: number, text: string, probe: string = text): Entry | undefined {
    const entries = this.bySample.get(sample);
    if (entries !== undefined) {
      for (const entry of entries) if (entry.text === probe) return entry;
      return undefined;
    }
    return this.crowdedSamples.has(sample) ? this.crowded.get(text) : undefined;
  }

  /** Adds an entry whose text the index does not hold yet. */
  add(entry: Entry): void {
    const crowdedCount = this.crowdedSamples.get(entry.sample);
    if (crowdedCount !== undefined) {
      this.crowded.set(entry.text, entry);
      this.crowdedSamples.set(entry.sample, crowdedCount + 1);
      return;
    }
    const entries = this.bySample.get(entry.sample);
    if (entries === undefined) this.bySample.set(entry.sample, [entry]);
    else if (entries.length < BUCKET_LIMIT) entries.push(entry);
    else {
      for (const other of entries) this.crowded.set(other.text, other);
      this.crowded.set(entry.text, entry);
      this.crowdedSamples.set(entry.sample, entries.length + 1);
      this.bySample.delete(entry.sample);
    }
  }

  /** Removes an entry the index holds (nothing happens for one it does not). */
  delete(entry: Entry): void {
    const crowdedCount = this.crowdedSamples.get(entry.sample);
    if (crowdedCount !== undefined) {
      this.crowded.delete(entry.text);
      if (crowdedCount === 1) this.crowdedSamples.delete(entry.sample);
      else this.crowdedSamples.set(entry.sample, crowdedCount - 1);
      return;
    }
    const entries = this.bySample.get(entry.sample);
    if (entries === undefined) return;
    const at = entries.indexOf(entry);
    if (at !== -1) entries.splice(at, 1);
    if (entries.length === 0) this.bySample.delete(entry.sample);
  }

  clear(): void {
    this.bySample.clear();
    this.crowdedSamples.clear();
    this.crowded.clear();
  }
}
