import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

// The dependency direction of docs/architecture.md, checked on the source so that it stays true.
const ALLOWED: Record<string, string[]> = {
  core: [],
  protocol: ["core"],
  config: ["core"],
  pipeline: ["core"],
  metrics: ["core"],
  alerts: ["core", "metrics", "config"],
  defence: ["core", "config"],
  detectors: ["core", "protocol", "defence"],
  scan: ["core", "config", "protocol", "defence"],
  record: ["core"],
  store: ["core", "config"],
  capture: ["core", "protocol", "config", "pipeline", "runtime", "metrics"],
  runtime: ["core", "config", "pipeline", "store", "detectors", "metrics", "alerts", "defence"],
  replay: ["core", "record", "pipeline", "store", "detectors", "config", "metrics", "alerts"],
  demo: [
    "core",
    "config",
    "capture",
    "runtime",
    "store",
    "pipeline",
    "detectors",
    "record",
    "metrics",
    "alerts",
    "replay",
  ],
  evaluation: [
    "core",
    "config",
    "record",
    "pipeline",
    "store",
    "detectors",
    "metrics",
    "alerts",
    "defence",
    "replay",
    "runtime",
  ],
  cli: ["*"],
};

/** Runtime packages the dependency-free core may not use. */
const CORE_MAY_IMPORT = /^node:/;

const sourceRoot = join(fileURLToPath(new URL("../../..", import.meta.url)), "src");

function* sourceFiles(folder: string): Generator<string> {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

function importsOf(text: string): string[] {
  const specifiers: string[] = [];
  const pattern = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
  for (const match of text.matchAll(pattern)) specifiers.push((match[1] ?? match[2])!);
  return specifiers;
}

test("every source folder imports only the layers below it", () => {
  const violations: string[] = [];
  let files = 0;
  for (const file of sourceFiles(sourceRoot)) {
    files++;
    const path = relative(sourceRoot, file).split(sep);
    const layer = path.length > 1 ? path[0]! : "index";
    if (layer === "index") continue;
    const allowed = ALLOWED[layer];
    if (allowed === undefined) {
      violations.push(`${relative(sourceRoot, file)}: folder src/${layer} is not in the layering table`);
      continue;
    }
    for (const specifier of importsOf(readFileSync(file, "utf8"))) {
      if (specifier.startsWith(".")) {
        const target = relative(sourceRoot, join(file, "..", specifier)).split(sep)[0]!;
        if (target === layer || allowed.includes("*") || allowed.includes(target)) continue;
        violations.push(`${relative(sourceRoot, file)} imports src/${target} (${specifier})`);
      } else if (layer === "core" && !CORE_MAY_IMPORT.test(specifier)) {
        violations.push(`${relative(sourceRoot, file)}: core must not depend on package ${specifier}`);
      }
    }
  }
  assert.ok(files > 10, `expected to read the source tree, read ${files} files`);
  assert.deepEqual(violations, []);
});

test("nothing but the CLI imports the CLI", () => {
  for (const file of sourceFiles(sourceRoot)) {
    const layer = relative(sourceRoot, file).split(sep)[0];
    if (layer === "cli") continue;
    for (const specifier of importsOf(readFileSync(file, "utf8"))) {
      if (!specifier.startsWith(".")) continue;
      const target = relative(sourceRoot, join(file, "..", specifier)).split(sep)[0];
      assert.notEqual(target, "cli", `${relative(sourceRoot, file)} imports the CLI`);
    }
  }
});
