import type { IncomingMessage } from "node:http";

/** Reads the body, giving up (and handing on `null`) as soon as it passes `limit` bytes. */
export function readBody(
  request: IncomingMessage,
  limit: number,
  done: (body: Buffer | null, size: number) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  request.on("data", (chunk: Buffer) => {
    if (over) return;
    size += chunk.length;
    if (size > limit) {
      over = true;
      chunks.length = 0;
      done(null, size);
      return;
    }
    chunks.push(chunk);
  });
  request.on("end", () => {
    if (over) return;
    done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), size);
  });
}
