import { Command, CommanderError } from "commander";
import { ToolwatchError } from "../core/errors.js";

type Register = (program: Command) => void;

/**
 * Every command, in the order of `toolwatch --help`. Modules load lazily: an MCP client starts a proxy
 * at every server start, and the proxy should not pay for the gateway, replay or alert modules.
 */
const COMMANDS: ReadonlyArray<[name: string, load: () => Promise<Register>]> = [
  ["demo", async () => (await import("./commands/demo.js")).registerDemoCommand],
  ["proxy", async () => (await import("./commands/proxy.js")).registerProxyCommand],
  ["serve", async () => (await import("./commands/serve.js")).registerServeCommand],
  ["replay", async () => (await import("./commands/replay.js")).registerReplayCommand],
  ["events", async () => (await import("./commands/events.js")).registerEventsCommand],
  ["stats", async () => (await import("./commands/stats.js")).registerStatsCommand],
  ["rules", async () => (await import("./commands/rules.js")).registerRulesCommand],
  ["alerts", async () => (await import("./commands/alerts.js")).registerAlertsCommand],
  ["audit", async () => (await import("./commands/audit.js")).registerAuditCommand],
  ["baseline", async () => (await import("./commands/baseline.js")).registerBaselineCommand],
  ["scan", async () => (await import("./commands/scan.js")).registerScanCommand],
  ["dlp", async () => (await import("./commands/dlp.js")).registerDlpCommand],
  ["tools", async () => (await import("./commands/tools.js")).registerToolsCommand],
  ["quarantine", async () => (await import("./commands/tools.js")).registerQuarantineCommand],
];

const program = new Command()
  .name("toolwatch")
  .description("Watch and defend AI agents' tool use over MCP.")
  .version("0.1.0")
  .showHelpAfterError()
  .exitOverride();

const requested = process.argv[2];
const chosen = COMMANDS.filter(([name]) => name === requested);
for (const [, load] of chosen.length > 0 ? chosen : COMMANDS) (await load())(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
  } else if (error instanceof ToolwatchError) {
    process.stderr.write(`toolwatch: ${error.message}\n`);
    process.exitCode = error.code === "usage" ? 2 : 1;
  } else {
    throw error;
  }
}
