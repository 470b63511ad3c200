/** `herald stats <channel>`: presence_stats. */
import type { Command } from "commander";
import { type Context, examples } from "../context.js";
import { statsText } from "../views.js";

export function registerStats(program: Command, ctx: Context): void {
  program
    .command("stats")
    .summary("count a channel's clients and users (presence_stats)")
    .description("Counts the members (clients: user and conn) and distinct users of a channel.")
    .argument("<channel>", "channel name")
    .option("--json", "print the API's result as JSON")
    .addHelpText("after", examples([["herald stats room:42", "clients and users in room:42"]]))
    .action(async (channel: string, opts: { json?: boolean }, cmd: Command) => {
      const result = await ctx.withSession(cmd, "client", (s) =>
        s.api.call<{ num_clients: number; num_users: number }>("presence_stats", { channel }),
      );
      if (opts.json === true) ctx.json(result);
      else ctx.out(statsText(channel, result, ctx.colors()));
    });
}
