/**
 * The floor for any stdio proxy written in Node: spawn the server, split both directions into lines
 * and write each line on as soon as it is complete. No parsing, no recording, no error handling.
 *
 * Usage: node dist/bench/line-relay.js <command> [args...]
 */
import { spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";

const [command, ...args] = process.argv.slice(2);
if (command === undefined) {
  process.stderr.write("usage: line-relay <command> [args...]\n");
  process.exit(2);
}
const child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });

function relay(from: Readable, to: Writable): void {
  let rest: Buffer | null = null;
  from.on("data", (chunk: Buffer) => {
    let start = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
      const line = chunk.subarray(start, newline + 1);
      to.write(rest === null ? line : Buffer.concat([rest, line]));
      rest = null;
      start = newline + 1;
    }
    if (start < chunk.length) {
      const tail = chunk.subarray(start);
      rest = rest === null ? Buffer.from(tail) : Buffer.concat([rest, tail]);
    }
  });
}

relay(process.stdin, child.stdin);
relay(child.stdout, process.stdout);
process.stdin.on("end", () => child.stdin.end());
child.on("close", (code) => process.exit(code ?? 1));
