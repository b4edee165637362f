// Runs every compiled *.test.js under dist/test with node's test runner. Node 20's `--test` does not
// expand globs, and pointing it at the folder would also run the tests' helper modules.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

function* testFiles(folder) {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) yield* testFiles(path);
    else if (entry.name.endsWith(".test.js")) yield path;
  }
}

const filter = process.argv.slice(2);
const files = [...testFiles("dist/test")]
  .filter((file) => filter.length === 0 || filter.some((part) => file.includes(part)))
  .sort();
if (files.length === 0) {
  console.error("no test files found under dist/test (run `npm run build` first)");
  process.exit(1);
}
// A test that hangs (a child process left running after a failed assertion) fails after two minutes
// instead of holding CI until its own limit.
const result = spawnSync(process.execPath, ["--test", "--test-concurrency=2", "--test-timeout=120000", ...files], {
  stdio: "inherit",
});
process.exit(result.status ?? 1);
