import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { isStdioUpstream, loadConfig } from "../../config/config.js";
import { parseDuration } from "../../config/duration.js";
import { ToolwatchError } from "../../core/errors.js";
import {
  describeTarget,
  formatScanReport,
  listServer,
  SCAN_EXIT,
  type ScanSeverity,
  type ScanTarget,
  SEVERITIES,
  scanDefinitions,
  scanExitCode,
  toSarif,
} from "../../scan/index.js";

/** Options of `toolwatch scan` as commander hands them over. */
interface ScanCommandOptions {
  url?: string;
  header: string[];
  config?: string;
  server?: string;
  sarif?: boolean;
  json?: boolean;
  output?: string;
  failOn: string;
  timeout: string;
}

/**
 * Registers `toolwatch scan [options] -- <command> [args...]` (or `--url`): lists a server's tools,
 * resources and prompts and reports poisoned descriptions, hidden characters, over-broad schemas and
 * dangerous capabilities. Exit 0: nothing at or above `--fail-on`; 1: findings at or above it; 2: could not scan.
 */
export function registerScanCommand(program: Command): void {
  program
    .command("scan")
    .description(
      "Connect to an MCP server, list its tools, resources and prompts, and report poisoned descriptions, hidden characters, over-broad input schemas and dangerous capabilities. Exit 0: nothing at or above --fail-on; 1: findings at or above it; 2: could not scan.",
    )
    .usage("[options] -- <command> [args...] | --url <url>")
    .argument("[command]", "the stdio server's command")
    .argument("[args...]", "its arguments")
    .option("--url <url>", "scan a Streamable HTTP server at this URL instead of starting a command")
    .option(
      "--header <header>",
      'HTTP header for --url, as "Name: value" (repeatable)',
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .option("--config <file>", "configuration file (YAML), for --server")
    .option("--server <name>", "scan the server of this name in the configuration file")
    .option("--sarif", "write SARIF 2.1.0 instead of the text report")
    .option("--json", "write the findings as JSON instead of the text report")
    .option("--output <file>", "write the report to this file instead of stdout")
    .option("--fail-on <severity>", `exit 1 on findings at or above this: ${SEVERITIES.join(", ")} or none`, "high")
    .option("--timeout <duration>", "limit for starting the server and for each list request", "30s")
    .action(async (command: string | undefined, args: string[], options: ScanCommandOptions) => {
      const failOn = parseFailOn(options.failOn);
      const timeoutMs = parseDuration(options.timeout);
      if (timeoutMs === null || timeoutMs <= 0) {
        throw new ToolwatchError(
          "usage",
          `--timeout expects a duration such as 30s, got ${JSON.stringify(options.timeout)}`,
        );
      }
      if (options.sarif && options.json) throw new ToolwatchError("usage", "give --sarif or --json, not both");
      const target = scanTarget(command, args, options);
      const listed = await listServer(target, { timeoutMs });
      if (!listed.ok) {
        process.stderr.write(
          `toolwatch: could not scan (${listed.stage === "connect" ? "the server did not start or answer" : "listing failed"}): ${listed.message}\n`,
        );
        process.exitCode = SCAN_EXIT.failed;
        return;
      }
      let findings: ReturnType<typeof scanDefinitions>;
      try {
        findings = scanDefinitions(listed.definitions);
      } catch (error) {
        // Only a broken installation (the poisoning model missing) gets here.
        process.stderr.write(`toolwatch: could not scan: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = SCAN_EXIT.failed;
        return;
      }
      const described = describeTarget(target);
      let report: string;
      if (options.sarif) {
        const sarif = toSarif(findings, {
          version: toolwatchVersion(),
          target: described,
          server: listed.definitions.server,
        });
        report = `${JSON.stringify(sarif, null, 2)}\n`;
      } else if (options.json) {
        report = `${JSON.stringify({ target: described, server: listed.definitions.server ?? null, findings }, null, 2)}\n`;
      } else {
        report = formatScanReport(described, listed.definitions, findings, failOn);
      }
      if (options.output === undefined) {
        process.stdout.write(report);
      } else {
        writeFileSync(options.output, report);
        process.stderr.write(`toolwatch: ${findings.length} finding(s) written to ${options.output}\n`);
      }
      process.exitCode = scanExitCode(findings, failOn);
    });
}

function parseFailOn(value: string): ScanSeverity | "none" {
  const lower = value.toLowerCase();
  if (lower === "none" || (SEVERITIES as readonly string[]).includes(lower)) return lower as ScanSeverity | "none";
  throw new ToolwatchError(
    "usage",
    `--fail-on expects one of ${SEVERITIES.join(", ")} or none, got ${JSON.stringify(value)}`,
  );
}

function scanTarget(command: string | undefined, args: string[], options: ScanCommandOptions): ScanTarget {
  const given = [command !== undefined, options.url !== undefined, options.server !== undefined].filter(Boolean).length;
  if (given !== 1) {
    throw new ToolwatchError(
      "usage",
      "give exactly one server to scan: -- <command> [args...], --url <url>, or --server <name>",
    );
  }
  if (options.server !== undefined) {
    const config = loadConfig(options.config);
    const upstream = config.servers[options.server];
    if (upstream === undefined) {
      throw new ToolwatchError("usage", `no server named ${JSON.stringify(options.server)} in the configuration`);
    }
    if (isStdioUpstream(upstream)) {
      return {
        command: upstream.command,
        args: upstream.args,
        env: upstream.env,
        ...(upstream.cwd === undefined ? {} : { cwd: upstream.cwd }),
      };
    }
    return { url: upstream.url, headers: upstream.headers };
  }
  if (options.url !== undefined) return { url: options.url, headers: parseHeaders(options.header) };
  if (options.header.length > 0) throw new ToolwatchError("usage", "--header applies to --url only");
  return { command: command!, args };
}

function parseHeaders(values: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const value of values) {
    const colon = value.indexOf(":");
    const name = colon === -1 ? "" : value.slice(0, colon).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new ToolwatchError("usage", `--header expects "Name: value", got ${JSON.stringify(value.slice(0, 40))}`);
    }
    headers[name] = value.slice(colon + 1).trim();
  }
  return headers;
}

/** toolwatch's version from its package.json (four folders up from the compiled command). */
function toolwatchVersion(): string {
  try {
    const text = readFileSync(new URL("../../../../package.json", import.meta.url), "utf8");
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === "string" ? version : "0.0.0";
  } catch {
    return "0.0.0";
  }
}
