import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, from a module compiled anywhere under dist/. */
export const repositoryRoot = fileURLToPath(new URL("../../..", import.meta.url));

/**
 * The shared data sets: `TOOLWATCH_DATASETS`, else `../shared/datasets/` beside the repository.
 * `null` when absent, so tests and benchmarks can skip with a message instead of failing.
 */
export function datasetsFolder(): string | null {
  const folder = process.env.TOOLWATCH_DATASETS || join(repositoryRoot, "..", "shared", "datasets");
  return existsSync(folder) ? folder : null;
}

/** Why a data-set test was skipped. */
export const DATASETS_MISSING = "shared data sets not found (set TOOLWATCH_DATASETS or put them in ../shared/datasets)";

/**
 * Every event file of the agentdojo and bipia data sets: each `*.jsonl.gz` but `labels.jsonl.gz`,
 * which holds per-session labels, not capture records.
 */
export function eventFiles(folder: string): string[] {
  const files: string[] = [];
  for (const name of ["agentdojo", "bipia"]) {
    const directory = join(folder, name);
    if (!existsSync(directory)) continue;
    for (const file of readdirSync(directory).sort()) {
      if (file.endsWith(".jsonl.gz") && file !== "labels.jsonl.gz") files.push(join(directory, file));
    }
  }
  return files;
}
