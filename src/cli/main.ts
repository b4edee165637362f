import { Command, CommanderError } from "commander";
import { ToolwatchError } from "../core/errors.js";

const program = new Command()
  .name("toolwatch")
  .description("Watch and defend AI agents' tool use over MCP.")
  .version("0.1.0")
  .showHelpAfterError()
  .exitOverride();

// Each command registers itself; keep this list in the order of `toolwatch --help`.

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
