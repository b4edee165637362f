/**
 * One-permutation MinHash (Li, Owen and Zhang, 2012) over character shingles: one hash per shingle, the
 * hash range cut into `bins`, the minimum kept per bin, empty bins filled from the next non-empty one
 * (rotation densification, Shrivastava 2017). The fraction of equal bins estimates the Jaccard similarity
 * of two texts' shingle sets at a fraction of classic MinHash's cost (one hash per shingle, not one per bin).
 */

/** Characters per shingle. */
export const SHINGLE_CHARS = 5;
const EMPTY = 0xffffffff;

/** A 32-bit FNV-1a hash of `text[start, end)`, finished with a murmur-style mix so that its high bits are uniform. */
export function hashRange(text: string, start: number, end: number, seed = 0x811c9dc5): number {
  let hash = seed >>> 0;
  for (let index = start; index < end; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return mix(hash);
}

/** Mixes a 32-bit value (murmur3's finaliser). */
export function mix(value: number): number {
  let hash = value >>> 0;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** The signature of `text`'s shingles: `bins` 32-bit minimums. Texts shorter than a shingle get one shingle. */
export function minHashSignature(text: string, bins: number): Uint32Array {
  const signature = new Uint32Array(bins).fill(EMPTY);
  const last = Math.max(0, text.length - SHINGLE_CHARS);
  for (let start = 0; start <= last; start++) {
    const hash = hashRange(text, start, Math.min(text.length, start + SHINGLE_CHARS));
    const bin = Math.floor((hash / 4294967296) * bins);
    // The position inside the bin is what is compared: the low bits of a second mix.
    const value = mix(hash ^ 0x9e3779b9);
    if (value < signature[bin]!) signature[bin] = value;
  }
  let filled = 0;
  for (const value of signature) if (value !== EMPTY) filled++;
  if (filled === 0 || filled === bins) return signature;
  const dense = signature.slice();
  for (let bin = 0; bin < bins; bin++) {
    if (signature[bin] !== EMPTY) continue;
    for (let step = 1; step < bins; step++) {
      const source = signature[(bin + step) % bins]!;
      if (source !== EMPTY) {
        // The step is folded in so that two texts only agree on a filled bin when they agree on its source.
        dense[bin] = mix(source + step);
        break;
      }
    }
  }
  return dense;
}

/** The estimated Jaccard similarity of two signatures of the same length: the fraction of equal bins. */
export function signatureSimilarity(a: Uint32Array, b: Uint32Array): number {
  let equal = 0;
  for (let bin = 0; bin < a.length; bin++) if (a[bin] === b[bin]) equal++;
  return a.length === 0 ? 0 : equal / a.length;
}

/** Hashes of the `bands` bands of `rows` bins each (locality-sensitive hashing): similar texts share a band. */
export function bandKeys(signature: Uint32Array, bands: number, rows: number): number[] {
  const keys: number[] = [];
  for (let band = 0; band < bands; band++) {
    let hash = mix(band + 0x51ed27);
    for (let row = 0; row < rows; row++) hash = mix(hash ^ (signature[band * rows + row] ?? 0));
    keys.push(hash);
  }
  return keys;
}
