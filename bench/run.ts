// `npm run bench`: every benchmark in one run, then one table of figures and the targets they are held to.
// Each benchmark measures its own baseline in the same run (direct calls, a peer gateway, parsing alone),
// because these machines are shared and noisy: the ratios are the figures to read.
import { benchAlerts } from "./alerts.bench.js";
import { benchBaseline } from "./baseline.bench.js";
import type { BenchResult } from "./bench-result.js";
import { benchDetectors } from "./detectors.bench.js";
import { benchDlp } from "./dlp.bench.js";
import { benchFlow } from "./flow.bench.js";
import { benchHttpGateway } from "./http-gateway.bench.js";
import { benchMetrics } from "./metrics.bench.js";
import { benchPoisoning } from "./poisoning.bench.js";
import { benchPolicy } from "./policy.bench.js";
import { benchReplay } from "./replay.bench.js";
import { benchSequenceAutoencoder } from "./sequence-autoencoder.bench.js";
import { benchStdioProxy } from "./stdio-proxy.bench.js";

const BENCHMARKS: Record<string, () => Promise<BenchResult | BenchResult[]>> = {
  "stdio-proxy": () => benchStdioProxy(),
  "http-gateway": () => benchHttpGateway(),
  replay: () => benchReplay(),
  metrics: () => benchMetrics(),
  alerts: () => benchAlerts(),
  policy: () => benchPolicy(),
  dlp: () => benchDlp(),
  poisoning: () => benchPoisoning(),
  baseline: () => benchBaseline(),
  detectors: () => benchDetectors(),
  flow: () => benchFlow(),
  "sequence-autoencoder": () => benchSequenceAutoencoder(),
};

const wanted = process.argv.slice(2);
const results: BenchResult[] = [];
for (const [name, run] of Object.entries(BENCHMARKS)) {
  if (wanted.length > 0 && !wanted.some((word) => name.includes(word))) continue;
  process.stdout.write(`\n=== ${name}\n`);
  const result = await run();
  results.push(...(Array.isArray(result) ? result : [result]));
}

process.stdout.write("\n=== summary\n");
let missed = 0;
for (const result of results) {
  for (const [metric, value] of Object.entries(result.metrics)) {
    const target = result.targets?.[metric];
    let verdict = "";
    if (target !== undefined) {
      const ok = (target.max === undefined || value <= target.max) && (target.min === undefined || value >= target.min);
      if (!ok) missed++;
      const bound = [
        target.min !== undefined ? `>= ${target.min}` : "",
        target.max !== undefined ? `<= ${target.max}` : "",
      ]
        .filter(Boolean)
        .join(" ");
      verdict = `${ok ? "meets" : "MISSES"} ${bound}`;
    }
    const shown = Number.isInteger(value) ? String(value) : value.toFixed(3);
    process.stdout.write(`${`${result.name} ${metric}`.padEnd(64)} ${shown.padStart(14)}  ${verdict}\n`);
  }
}
process.stdout.write(missed === 0 ? "\nevery target met\n" : `\n${missed} target(s) missed on this run\n`);
