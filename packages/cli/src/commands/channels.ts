/** `herald channels <user>`: user_channels. */
import type { Command } from "commander";
import { type Context, examples } from "../context.js";
import { channelsText } from "../views.js";

export function registerChannels(program: Command, ctx: Context): void {
  program
    .command("channels")
    .summary("list the channels a user is in (user_channels)")
    .description("Lists the channels any conn of the user is in, one per line.")
    .argument("<user>", "user id")
    .option("--json", "print the API's result as JSON")
    .addHelpText(
      "after",
      examples([
        ["herald channels 42", "the channels of user 42"],
        ["herald channels 42 | wc -l", "how many"],
      ]),
    )
    .action(async (user: string, opts: { json?: boolean }, cmd: Command) => {
      const result = await ctx.withSession(cmd, "client", (s) =>
        s.api.call<{ channels: string[] }>("user_channels", { user }),
      );
      if (opts.json === true) ctx.json(result);
      else if (result.channels.length > 0) ctx.out(channelsText(user, result.channels));
      else ctx.err(channelsText(user, [], ctx.colors(ctx.io.stderr)));
    });
}
