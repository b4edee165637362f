import { randomUUID } from "node:crypto";
import { userInfo } from "node:os";
import { basename, dirname, extname } from "node:path";
import type { Command } from "commander";
import { silencesPathFor } from "../../alerts/silences.js";
import { StdioProxy } from "../../capture/stdio-proxy.js";
import { StdioUpstream } from "../../capture/stdio-upstream.js";
import { isStdioUpstream, loadConfig, type ToolwatchConfig } from "../../config/config.js";
import { resolveDatabasePath } from "../../config/paths.js";
import { ToolwatchError } from "../../core/errors.js";
import type { Store } from "../../core/store.js";
import { startMetricsServer } from "../../metrics/prometheus.js";
import { startDefendedRuntime } from "../../runtime/defended-runtime.js";
import { configuredHashAlgorithm, openStore } from "../../store/index.js";

/** Options of `toolwatch proxy` as commander hands them over. */
interface ProxyCommandOptions {
  server?: string;
  agent?: string;
  config?: string;
  db?: string;
  /** `--no-store` sets this to false. */
  store: boolean;
  metricsPort?: string;
}

/** What one proxy run needs; the CLI builds it from flags, benchmarks and tests build it directly. */
export interface ProxyRunOptions {
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  server: string;
  agent: string | null;
  config: ToolwatchConfig;
  store: Store | null;
  /** Database file for tool pins and quarantined content; `null` keeps pins in memory. */
  database?: string | null;
  /** Serve Prometheus metrics on this port of 127.0.0.1 while the proxy runs. */
  metrics_port?: number;
  /** The silences file `toolwatch alerts silence` writes; none when absent. */
  silencesFile?: string;
}

/**
 * Registers `toolwatch proxy [options] -- <command> [args...]`: the drop-in stdio proxy. An MCP
 * client's server entry `"command": "npx", "args": ["pkg", "/data"]` becomes
 * `"command": "toolwatch", "args": ["proxy", "--", "npx", "pkg", "/data"]`.
 */
export function registerProxyCommand(program: Command): void {
  program
    .command("proxy")
    .description("Run an MCP server over stdio through toolwatch, recording every exchange.")
    .usage("[options] -- <command> [args...]")
    .argument("[command]", "the MCP server command (or a stdio server named with --server in the config file)")
    .argument("[args...]", "its arguments")
    .option("--server <name>", "name recorded for the server (default: the package or command name)")
    .option("--agent <name>", "agent or session type recorded with every exchange")
    .option("--config <file>", "configuration file (YAML)")
    .option("--db <file>", "database file (default: $TOOLWATCH_DB, the config file, then ~/.local/share/toolwatch)")
    .option("--no-store", "record nothing to disk")
    .option("--metrics-port <port>", "serve Prometheus metrics at http://127.0.0.1:<port>/metrics while the proxy runs")
    .action(async (command: string | undefined, args: string[], options: ProxyCommandOptions) => {
      const config = loadConfig(options.config);
      let upstream: { command: string; args: string[]; env?: Record<string, string>; cwd?: string };
      if (command !== undefined) {
        upstream = { command, args };
      } else {
        const configured = options.server === undefined ? undefined : config.servers[options.server];
        if (configured === undefined || !isStdioUpstream(configured)) {
          throw new ToolwatchError(
            "usage",
            "give the MCP server command after --, e.g. toolwatch proxy -- npx @modelcontextprotocol/server-filesystem /data",
          );
        }
        upstream = configured;
      }
      const database = resolveDatabasePath(options.db, config.database);
      const store = options.store ? openProxyStore(database, config) : null;
      const status = await runProxy({
        database: options.store ? database : null,
        silencesFile: silencesPathFor(database),
        ...upstream,
        server: options.server ?? defaultServerName(upstream.command, upstream.args),
        agent: options.agent ?? null,
        config,
        store,
        ...(options.metricsPort === undefined ? {} : { metrics_port: parsePort(options.metricsPort) }),
      });
      process.exit(status);
    });
}

/**
 * The single place the proxy opens its store. A store that cannot be opened stops the proxy before the
 * server starts (a `store_unavailable` error): a monitor that silently records nothing is worse than none.
 */
function openProxyStore(path: string, config: ToolwatchConfig): Store {
  return openStore(path, {
    queueSize: config.store.queue_size,
    retentionMs: config.retention,
    hashAlgorithm: configuredHashAlgorithm(config.store.hash_algorithm),
  });
}

/**
 * Runs one proxy session on this process's stdin and stdout and resolves with the status to exit with.
 * Termination signals are passed to the server; everything recorded is flushed before it resolves.
 */
export async function runProxy(options: ProxyRunOptions): Promise<number> {
  const { config } = options;
  const runtime = await startDefendedRuntime({
    config,
    store: options.store,
    database: options.database ?? null,
    log: (line) => process.stderr.write(`toolwatch: ${line}\n`),
    ...(options.silencesFile === undefined ? {} : { silencesFile: options.silencesFile }),
  });
  const upstream = new StdioUpstream({
    command: options.command,
    args: options.args,
    env: options.env,
    cwd: options.cwd,
    limits: { max_message_bytes: config.capture.max_message_bytes, max_depth: config.capture.max_depth },
  });
  const proxy = new StdioProxy({
    upstream,
    pipeline: runtime.pipeline,
    identity: {
      session: randomUUID(),
      user: osUser(),
      agent: options.agent,
      server: options.server,
      transport: "stdio",
      source: null,
    },
    capture: config.capture,
    ...(runtime.guard === null ? {} : { guard: runtime.guard }),
  });
  // stdout belongs to the MCP client, so metrics are served on a port of their own, never printed.
  const metrics =
    options.metrics_port === undefined
      ? null
      : await startMetricsServer({
          source: runtime.analysis.metrics,
          port: options.metrics_port,
          dropped: { store: () => runtime.store?.counters().dropped ?? 0 },
        });
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  const onSignal = (signal: NodeJS.Signals): void => proxy.stop(signal);
  for (const signal of signals) process.on(signal, onSignal);
  try {
    return await proxy.run();
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
    await metrics?.close();
    await runtime.shutdown();
  }
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ToolwatchError("usage", `--metrics-port expects a port number, got ${JSON.stringify(text)}`);
  }
  return port;
}

function osUser(): string | null {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry (some containers): fall back to what the shell says.
    return process.env.USER ?? process.env.USERNAME ?? null;
  }
}

/** Launchers whose first argument that is not an option names the actual server. */
const LAUNCHERS = new Set([
  "npx",
  "bunx",
  "pnpx",
  "uvx",
  "pipx",
  "node",
  "bun",
  "deno",
  "python",
  "python3",
  "uv",
  "pnpm",
  "yarn",
  "npm",
  "docker",
  "podman",
]);
/** Sub-commands of launchers that come before the server's name. */
const LAUNCHER_VERBS = new Set(["run", "exec", "dlx", "x", "tool"]);
/** Entry-point file names that say nothing; the folder above them does. */
const GENERIC_ENTRIES = new Set(["index", "main", "server", "cli", "__main__", "app", "start"]);
const BUILD_FOLDERS = new Set(["dist", "build", "lib", "src", "bin", "out", "esm", "cjs"]);

/**
 * The name recorded for a server nobody named: the package or script the command runs
 * (`npx -y @modelcontextprotocol/server-filesystem /data` → `server-filesystem`).
 */
export function defaultServerName(command: string, args: readonly string[]): string {
  let target = command;
  if (LAUNCHERS.has(stripExtension(basename(command)))) {
    for (let index = 0; index < args.length; index++) {
      const argument = args[index]!;
      // `python -m package` names the module after the flag.
      if (argument === "-m" && args[index + 1] !== undefined) {
        target = args[index + 1]!;
        break;
      }
      if (argument.startsWith("-") || LAUNCHER_VERBS.has(argument)) continue;
      target = argument;
      break;
    }
  }
  return sanitise(packageName(target)) || "mcp-server";
}

function packageName(target: string): string {
  // A scoped or versioned package: @scope/name@1.2.3 → name.
  const withoutVersion = target.replace(/(?<=.)@[^/@]*$/, "");
  if (withoutVersion.startsWith("@") && withoutVersion.split("/").length === 2) return withoutVersion.split("/")[1]!;
  let path = withoutVersion.replace(/[\\/]+$/, "");
  let name = stripExtension(basename(path));
  while (GENERIC_ENTRIES.has(name) || BUILD_FOLDERS.has(name)) {
    const parent = dirname(path);
    if (parent === path || parent === "." || parent === "/") break;
    path = parent;
    name = basename(path);
  }
  return name;
}

function stripExtension(name: string): string {
  const extension = extname(name);
  return /^\.(?:[cm]?js|[cm]?ts|py|exe|cmd|bat|sh)$/i.test(extension) ? name.slice(0, -extension.length) : name;
}

/** Server names must fit the config's server-name pattern. */
function sanitise(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "");
}
