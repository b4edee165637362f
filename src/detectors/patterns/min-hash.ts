/**
 * One-permutation MinHash (Li, Owen and Zhang, 2012) over character shingles: one hash per shingle, the
 * hash range cut into `bins`, the minimum kept per bin, empty bins filled from the next non-empty one
 * (rotation densification, Shrivastava 2017). The fraction of equal bins estimates the Jaccard similarity
 * of two texts' shingle sets at a fraction of classic MinHash's cost (one hash per shingle, not one per bin).
 */

/** Characters per shingle (the hashing loop of {@link minHashSignature} is unrolled for five). */
export const SHINGLE_CHARS = 5;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const EMPTY = 0xffffffff;

/** A 32-bit FNV-1a hash of `text[start, end)`, finished with a murmur-style mix so that its high bits are uniform. */
export function hashRange(text: string, start: number, end: number, seed = FNV_OFFSET): number {
  let hash = seed >>> 0;
  for (let index = start; index < end; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, FNV_PRIME);
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

/** The minimums before densification, reused from call to call (only the dense signature is kept). */
let minimums = new Uint32Array(0);

/**
 * The signature of `text`'s shingles: `bins` 32-bit minimums. Texts shorter than a shingle get one shingle. A plain
 * array: V8 makes a small typed array many times more slowly, and every correlated call keeps a signature.
 */
export function minHashSignature(text: string, bins: number): number[] {
  if (minimums.length !== bins) minimums = new Uint32Array(bins);
  const signature = minimums.fill(EMPTY);
  const length = text.length;
  if (length < SHINGLE_CHARS) addShingle(signature, hashRange(text, 0, length));
  else {
    // hashRange(text, start, start + 5) with the window's characters carried from shingle to shingle, so that each
    // character is read once.
    let second = text.charCodeAt(0);
    let third = text.charCodeAt(1);
    let fourth = text.charCodeAt(2);
    let fifth = text.charCodeAt(3);
    for (let start = 0; start <= length - SHINGLE_CHARS; start++) {
      const first = second;
      second = third;
      third = fourth;
      fourth = fifth;
      fifth = text.charCodeAt(start + 4);
      let hash = Math.imul(FNV_OFFSET ^ first, FNV_PRIME);
      hash = Math.imul(hash ^ second, FNV_PRIME);
      hash = Math.imul(hash ^ third, FNV_PRIME);
      hash = Math.imul(hash ^ fourth, FNV_PRIME);
      hash = Math.imul(hash ^ fifth, FNV_PRIME);
      addShingle(signature, mix(hash));
    }
  }
  const dense = new Array<number>(bins);
  for (let bin = 0; bin < bins; bin++) dense[bin] = signature[bin]!;
  let filled = 0;
  for (const value of signature) if (value !== EMPTY) filled++;
  if (filled === 0 || filled === bins) return dense;
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

/** Keeps a shingle's hash in its bin when it is the bin's smallest. */
function addShingle(signature: Uint32Array, hash: number): void {
  const bin = Math.floor((hash / 4294967296) * signature.length);
  // The position inside the bin is what is compared: the low bits of a second mix.
  const value = mix(hash ^ 0x9e3779b9);
  if (value < signature[bin]!) signature[bin] = value;
}

/** The estimated Jaccard similarity of two signatures of the same length: the fraction of equal bins. */
export function signatureSimilarity(a: readonly number[], b: readonly number[]): number {
  let equal = 0;
  for (let bin = 0; bin < a.length; bin++) if (a[bin] === b[bin]) equal++;
  return a.length === 0 ? 0 : equal / a.length;
}

/** Hashes of the `bands` bands of `rows` bins each (locality-sensitive hashing): similar texts share a band. */
export function bandKeys(signature: readonly number[], bands: number, rows: number): number[] {
  const keys: number[] = [];
  for (let band = 0; band < bands; band++) {
    let hash = mix(band + 0x51ed27);
    for (let row = 0; row < rows; row++) hash = mix(hash ^ (signature[band * rows + row] ?? 0));
    keys.push(hash);
  }
  return keys;
}
