/** `herald presence <channel>`: the members of a channel. */
import type { Member } from "@herald/contract";
import type { Command } from "commander";
import { type Context, examples } from "../context.js";
import { presenceTable } from "../views.js";

export function registerPresence(program: Command, ctx: Context): void {
  program
    .command("presence")
    .summary("show the members of a channel (presence)")
    .description(
      "Shows every member (user and conn) of a channel, when it joined and was updated, and its data.",
    )
    .argument("<channel>", "channel name")
    .option("--json", "print the API's result as JSON")
    .addHelpText(
      "after",
      examples([
        ["herald presence room:42", "who is in room:42"],
        ["herald presence room:42 --json", "the members as JSON"],
      ]),
    )
    .action(async (channel: string, opts: { json?: boolean }, cmd: Command) => {
      const result = await ctx.withSession(cmd, "client", (s) =>
        s.api.call<{ members: Member[] }>("presence", { channel }),
      );
      if (opts.json === true) ctx.json(result);
      else ctx.out(presenceTable(channel, result.members, ctx.io.now(), ctx.colors()));
    });
}
