/**
 * The `herald` program: global connection options, one command per file, and the mapping of
 * every way it can end to an exit code (0 ok, 1 failure, 2 usage) with one line on stderr.
 */
import { Command, CommanderError } from "commander";
import { registerAt } from "./commands/at.js";
import { registerCall } from "./commands/call.js";
import { registerChannels } from "./commands/channels.js";
import { registerHistory } from "./commands/history.js";
import { registerPresence } from "./commands/presence.js";
import { registerProjections } from "./commands/projections.js";
import { registerSimulate } from "./commands/simulate.js";
import { registerStats } from "./commands/stats.js";
import { registerStatus } from "./commands/status.js";
import { registerTop } from "./commands/top.js";
import { registerWatch } from "./commands/watch.js";
import { Context, examples, type Io } from "./context.js";
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./errors.js";
import { addConnectionOptions } from "./options.js";
import { normaliseArgs } from "./parse.js";

export const VERSION = "0.1.0";

export function buildProgram(ctx: Context): Command {
  const program = new Command("herald")
    .description(
      "Talks to a running Herald over NATS: statuses, channel presence, history, live events, a live view of the workers, load simulation and the projections rebuild.",
    )
    .version(VERSION, "-V, --version")
    .enablePositionalOptions()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
      outputError: (s, write) => write(s.replace(/^error: /, "herald: ")),
    })
    .showHelpAfterError("(add --help for usage)")
    .exitOverride()
    .addHelpText(
      "after",
      `${examples([
        ["herald status 42", "user 42's status"],
        ["herald watch --channel room:1", "live events of a channel"],
        ['herald call join \'{"user":"42","conn":"c1","channel":"room:1"}\'', "any API method"],
        ["herald top --user admin --password …", "the workers, live"],
        ["NATS_URL=nats://client:secret@127.0.0.1:4222 herald presence room:1", "credentials in the URL"],
      ])}
Connection: as the nats CLI: --server/-s, --user, --password, --inbox-prefix (before the
command, or after it), or NATS_URL, NATS_USER, NATS_PASSWORD. In watch and history --user is
the user they are about: give the NATS user before the command (herald --user client watch
--user 42) or in NATS_USER. The API and live events need a user allowed them (client in
nats-auth.conf); top and projections rebuild need admin.

Exit codes: 0 ok, 1 failure (NATS, an error reply), 2 bad usage.
`,
    );
  registerStatus(program, ctx);
  registerPresence(program, ctx);
  registerStats(program, ctx);
  registerChannels(program, ctx);
  registerHistory(program, ctx);
  registerAt(program, ctx);
  registerWatch(program, ctx);
  registerCall(program, ctx);
  registerTop(program, ctx);
  registerSimulate(program, ctx);
  registerProjections(program, ctx);
  addConnectionOptions(program);
  // Every command that connects takes them after its name too; where the command has its own
  // --user (the user it is about), the NATS user goes before the command name.
  const leaves = (c: Command): Command[] => (c.commands.length === 0 ? [c] : c.commands.flatMap(leaves));
  for (const c of program.commands.flatMap(leaves)) {
    if (c.name() === "help") continue;
    addConnectionOptions(c, { user: !c.options.some((o) => o.long === "--user") });
  }
  return program;
}

/** Runs the command line `args` (without node and the script); resolves with the exit code. */
export async function run(args: readonly string[], io: Io): Promise<number> {
  const ctx = new Context(io);
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(normaliseArgs(args), { from: "user" });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end "with an error" to stop parsing; they are a success.
      if (
        err.code === "commander.helpDisplayed" ||
        err.code === "commander.version" ||
        err.code === "commander.help"
      )
        return EXIT_OK;
      // A command group without its subcommand prints its help: usage.
      return err.code === "commander.executeSubCommandAsync" ? EXIT_FAILURE : EXIT_USAGE;
    }
    if (err instanceof CliError) {
      ctx.err(`herald: ${err.message}`);
      return err.exitCode;
    }
    ctx.err(`herald: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return EXIT_FAILURE;
  }
}
