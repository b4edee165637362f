import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { evaluateDlp, readExamples } from "../../../src/defence/dlp/evaluate-dlp.js";
import { DlpEngine, defaultDlpSettings } from "../../../src/defence/dlp/index.js";
import { DATASETS_MISSING, datasetsFolder } from "../../record/datasets.js";

const folder = datasetsFolder();

test("precision and recall on the gitleaks examples stay at their measured floors", {
  skip: folder === null ? DATASETS_MISSING : false,
}, () => {
  const evaluation = evaluateDlp(
    new DlpEngine(defaultDlpSettings()),
    readExamples(join(folder!, "dlp", "gitleaks-examples.jsonl.gz")),
  );
  // Measured 89.9% / 57.5% overall (docs/dlp.md); floors a little below.
  assert.ok(evaluation.overall.precision >= 0.87, `precision ${evaluation.overall.precision}`);
  assert.ok(evaluation.overall.recall >= 0.55, `recall ${evaluation.overall.recall}`);
  for (const family of ["github", "openai", "huggingface", "private", "azure", "slack"]) {
    const score = evaluation.families[family]!;
    assert.ok(score.precision >= 0.99, `${family} precision ${score.precision}`);
  }
  for (const family of ["openai", "huggingface", "private", "azure"]) {
    assert.ok(evaluation.families[family]!.recall >= 0.9, `${family} recall ${evaluation.families[family]!.recall}`);
  }
});
