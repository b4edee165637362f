import assert from "node:assert/strict";
import { test } from "node:test";
import { Ajv } from "ajv";
import { SARIF_LEVEL, SCAN_RULES, type ScanFinding, toSarif } from "../../src/scan/index.js";

/**
 * The parts of the SARIF 2.1.0 schema (sarif-schema-2.1.0.json) that a consumer such as GitHub code
 * scanning relies on, transcribed: required properties, the level enum, the message, and logical
 * locations.
 */
const SARIF_SUBSET = {
  type: "object",
  required: ["version", "runs"],
  properties: {
    $schema: { type: "string", format: "uri" },
    version: { const: "2.1.0" },
    runs: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        required: ["tool"],
        properties: {
          tool: {
            type: "object",
            required: ["driver"],
            properties: {
              driver: {
                type: "object",
                required: ["name"],
                properties: {
                  name: { type: "string" },
                  version: { type: "string" },
                  informationUri: { type: "string" },
                  rules: {
                    type: "array",
                    items: {
                      type: "object",
                      required: ["id"],
                      properties: {
                        id: { type: "string" },
                        name: { type: "string" },
                        shortDescription: { $ref: "#/$defs/message" },
                        fullDescription: { $ref: "#/$defs/message" },
                        help: { $ref: "#/$defs/message" },
                        helpUri: { type: "string" },
                        defaultConfiguration: {
                          type: "object",
                          properties: { level: { $ref: "#/$defs/level" } },
                        },
                        properties: { type: "object" },
                      },
                      additionalProperties: false,
                    },
                  },
                },
              },
            },
          },
          invocations: {
            type: "array",
            items: { type: "object", required: ["executionSuccessful"] },
          },
          results: {
            type: "array",
            items: {
              type: "object",
              required: ["message"],
              properties: {
                ruleId: { type: "string" },
                ruleIndex: { type: "integer", minimum: -1 },
                level: { $ref: "#/$defs/level" },
                message: { $ref: "#/$defs/message" },
                locations: {
                  type: "array",
                  items: {
                    type: "object",
                    properties: {
                      logicalLocations: {
                        type: "array",
                        items: {
                          type: "object",
                          properties: {
                            name: { type: "string" },
                            fullyQualifiedName: { type: "string" },
                            kind: { type: "string" },
                          },
                          additionalProperties: false,
                        },
                      },
                    },
                  },
                },
                partialFingerprints: { type: "object", additionalProperties: { type: "string" } },
                properties: { type: "object" },
              },
              additionalProperties: false,
            },
          },
          properties: { type: "object" },
        },
      },
    },
  },
  $defs: {
    level: { enum: ["none", "note", "warning", "error"] },
    message: {
      type: "object",
      required: ["text"],
      properties: { text: { type: "string" }, markdown: { type: "string" } },
    },
  },
};

interface SarifLog {
  runs: Array<{
    tool: { driver: { rules: Array<{ id: string; help: { text: string }; defaultConfiguration: { level: string } }> } };
    results: Array<{
      ruleId: string;
      ruleIndex: number;
      level: string;
      message: { text: string };
      partialFingerprints: Record<string, string>;
    }>;
  }>;
}

const FINDINGS: ScanFinding[] = [
  {
    ruleId: "poisoned-description",
    severity: "critical",
    targetKind: "tool",
    target: "add",
    field: "description",
    message: "carries an <IMPORTANT> block",
    span: { start: 10, end: 40 },
    evidence: ["instruction_tag: <IMPORTANT>"],
  },
  {
    ruleId: "file-write",
    severity: "medium",
    targetKind: "tool",
    target: "write_file",
    field: "name",
    message: "writes",
  },
  {
    ruleId: "unbounded-string",
    severity: "low",
    targetKind: "tool",
    target: "echo",
    field: "inputSchema",
    message: "unbounded",
  },
];

test("the SARIF log is valid against the SARIF 2.1.0 structure, with every rule and one result per finding", () => {
  const sarif = toSarif(FINDINGS, {
    version: "0.1.0",
    target: "node server.js",
    server: { name: "unit", version: "1" },
  });
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  const valid = ajv.validate(SARIF_SUBSET, sarif);
  assert.ok(valid, ajv.errorsText(ajv.errors));
  const run = (sarif as unknown as SarifLog).runs[0]!;
  const rules = run.tool.driver.rules;
  assert.deepEqual(
    rules.map((rule) => rule.id),
    SCAN_RULES.map((rule) => rule.id),
  );
  for (const rule of rules) assert.ok(rule.help.text.length > 40, `${rule.id} has help text`);
  const results = run.results;
  assert.equal(results.length, FINDINGS.length);
  for (const [index, result] of results.entries()) {
    const finding = FINDINGS[index]!;
    assert.equal(result.ruleId, finding.ruleId);
    assert.equal(rules[result.ruleIndex]?.id, finding.ruleId, "ruleIndex points at the rule");
    assert.equal(result.level, SARIF_LEVEL[finding.severity]);
  }
  assert.deepEqual(
    results.map((result) => result.level),
    ["error", "warning", "note"],
  );
});

test("fingerprints are stable across runs and differ between findings", () => {
  const fingerprints = (sarif: Record<string, unknown>) =>
    (sarif as unknown as SarifLog).runs[0]!.results.map((result) => Object.values(result.partialFingerprints)[0]);
  const first = fingerprints(toSarif(FINDINGS, { version: "0.1.0", target: "a" }));
  const second = fingerprints(toSarif(FINDINGS, { version: "0.2.0", target: "b" }));
  assert.deepEqual(first, second);
  assert.equal(new Set(first).size, FINDINGS.length);
});
