/** Anything with an event time. */
export interface Timed {
  time_ms: number;
}

interface Cursor<T extends Timed> {
  iterator: AsyncIterator<T[]>;
  batch: T[];
  index: number;
  /** Position of the source in the argument list: breaks ties so that equal times keep a stable order. */
  order: number;
  open: boolean;
}

const DEFAULT_OUTPUT_BATCH = 1024;

/**
 * K-way merge of sources that are each sorted by time, in batches (as the capture readers produce them).
 *
 * A binary min-heap keyed by (time, source order) picks the next record, so the output is sorted when
 * every source is, and records with equal times come out in the order of the sources given, each
 * source's own order kept. A source that is out of order is not sorted: its records still come out in
 * its own order, interleaved with the others by the head of each source.
 * A single source passes through untouched. Stopping early closes every source.
 */
export async function* mergeByTime<T extends Timed>(
  sources: readonly AsyncIterable<T[]>[],
  outputBatch = DEFAULT_OUTPUT_BATCH,
): AsyncGenerator<T[]> {
  if (sources.length === 1) {
    yield* sources[0]!;
    return;
  }
  const cursors: Cursor<T>[] = sources.map((source, order) => ({
    iterator: source[Symbol.asyncIterator](),
    batch: [],
    index: 0,
    order,
    open: true,
  }));
  const heap: Cursor<T>[] = [];
  try {
    for (const cursor of cursors) {
      if (await refill(cursor)) push(heap, cursor);
    }
    let output: T[] = [];
    while (heap.length > 0) {
      const top = heap[0]!;
      output.push(top.batch[top.index]!);
      top.index++;
      if (top.index === top.batch.length) {
        // Hand on what is ready before waiting on disk, so memory stays at about one batch per source.
        if (output.length > 0) {
          yield output;
          output = [];
        }
        if (!(await refill(top))) {
          pop(heap);
          continue;
        }
      }
      siftDown(heap, 0);
      if (output.length >= outputBatch) {
        yield output;
        output = [];
      }
    }
    if (output.length > 0) yield output;
  } finally {
    for (const cursor of cursors) {
      if (cursor.open) await cursor.iterator.return?.();
    }
  }
}

async function refill<T extends Timed>(cursor: Cursor<T>): Promise<boolean> {
  for (;;) {
    const next = await cursor.iterator.next();
    if (next.done) {
      cursor.open = false;
      return false;
    }
    if (next.value.length > 0) {
      cursor.batch = next.value;
      cursor.index = 0;
      return true;
    }
  }
}

function before<T extends Timed>(a: Cursor<T>, b: Cursor<T>): boolean {
  const timeA = a.batch[a.index]!.time_ms;
  const timeB = b.batch[b.index]!.time_ms;
  return timeA < timeB || (timeA === timeB && a.order < b.order);
}

function push<T extends Timed>(heap: Cursor<T>[], cursor: Cursor<T>): void {
  heap.push(cursor);
  let child = heap.length - 1;
  while (child > 0) {
    const parent = (child - 1) >> 1;
    if (!before(heap[child]!, heap[parent]!)) break;
    swap(heap, child, parent);
    child = parent;
  }
}

function pop<T extends Timed>(heap: Cursor<T>[]): void {
  const last = heap.pop()!;
  if (heap.length === 0) return;
  heap[0] = last;
  siftDown(heap, 0);
}

function siftDown<T extends Timed>(heap: Cursor<T>[], start: number): void {
  let parent = start;
  for (;;) {
    const left = parent * 2 + 1;
    if (left >= heap.length) return;
    const right = left + 1;
    const child = right < heap.length && before(heap[right]!, heap[left]!) ? right : left;
    if (!before(heap[child]!, heap[parent]!)) return;
    swap(heap, child, parent);
    parent = child;
  }
}

function swap<T>(items: T[], a: number, b: number): void {
  const item = items[a]!;
  items[a] = items[b]!;
  items[b] = item;
}
