import type { Command } from "commander";
import { silencesPathFor } from "../../alerts/silences.js";
import { startGateway } from "../../capture/http-gateway.js";
import { loadConfig, type ToolwatchConfig } from "../../config/config.js";
import { resolveDatabasePath } from "../../config/paths.js";
import { ToolwatchError } from "../../core/errors.js";
import type { Store } from "../../core/store.js";
import { startDefendedRuntime } from "../../runtime/defended-runtime.js";
import { configuredHashAlgorithm, openStore } from "../../store/index.js";

interface ServeOptions {
  config?: string;
  db?: string;
  host?: string;
  port?: number;
  store: boolean;
}

/** Registers `toolwatch serve`: the Streamable HTTP gateway in front of every configured server. */
export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("Run the Streamable HTTP gateway: each configured server at /mcp/<name>, every exchange recorded.")
    .option("--config <file>", "configuration file (YAML)")
    .option("--db <file>", "database file (default: TOOLWATCH_DB, the config's database, or the user data folder)")
    .option("--host <host>", "address to listen on (default: gateway.host, 127.0.0.1)")
    .option("--port <port>", "port to listen on, 0 for any free port (default: gateway.port, 8808)", parsePort)
    .option("--no-store", "record through the pipeline without writing the database")
    .action(async (options: ServeOptions) => {
      await serve(options);
    });
}

async function serve(options: ServeOptions): Promise<void> {
  const config = loadConfig(options.config);
  if (Object.keys(config.servers).length === 0) {
    throw new ToolwatchError("usage", "no servers configured: add at least one under `servers:` in the config file");
  }
  const database = resolveDatabasePath(options.db, config.database);
  const store = options.store ? openGatewayStore(database, config) : null;
  const log = (line: string) => process.stderr.write(`toolwatch: ${line}\n`);
  const runtime = await startDefendedRuntime({
    config,
    store,
    database: options.store ? database : null,
    log,
    silencesFile: silencesPathFor(database),
  });
  const gateway = await startGateway({ config, runtime, host: options.host, port: options.port });
  let stopping = false;
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        log(`${signal} again: exiting without waiting`);
        process.exit(130);
      }
      stopping = true;
      log(`${signal}: closing sessions and flushing records`);
      gateway
        .close()
        .then(() => runtime.shutdown())
        .catch((error: unknown) => log(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`))
        .finally(resolve);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  const counters = gateway.counters();
  log(
    `gateway stopped: ${counters.sessions_started} sessions, ${counters.requests} requests, ${counters.refused} refused, ${counters.dropped_server_messages} server messages dropped`,
  );
}

/** The single place `serve` opens its store: SQLite, written from a worker so the gateway's thread never waits on disk. */
function openGatewayStore(path: string, config: ToolwatchConfig): Store {
  const store = openStore(path, {
    queueSize: config.store.queue_size,
    retentionMs: config.retention,
    hashAlgorithm: configuredHashAlgorithm(config.store.hash_algorithm),
  });
  process.stderr.write(`toolwatch: recording to ${path}\n`);
  return store;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ToolwatchError("usage", `--port expects a port number from 0 to 65535, got ${JSON.stringify(value)}`);
  }
  return port;
}
