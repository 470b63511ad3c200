/** `herald at <time> <user…>`: status_at, the statuses others saw at a time. */
import type { Command } from "commander";
import { type Context, examples } from "../context.js";
import { parseTime } from "../parse.js";
import { statusAtTable } from "../views.js";

export function registerAt(program: Command, ctx: Context): void {
  program
    .command("at")
    .summary("show the statuses users had at a time (status_at)")
    .description("Shows the status others saw for each user at a past time (from the events stream).")
    .argument("<time>", "ISO 8601, unix ms, relative (-10m or 10m: ten minutes ago), or hh:mm[:ss] today")
    .argument("<user...>", "user ids (1..1000)")
    .option("--json", "print the API's result as JSON")
    .addHelpText(
      "after",
      examples([
        ["herald at -10m 42", "user 42 ten minutes ago"],
        ["herald at 2025-05-01T09:30:00Z alice bob", "at a UTC time"],
        ["herald at 1714555800000 42", "at a unix time in ms"],
        ["herald at 09:30 42", "at 09:30 today, local time"],
      ]),
    )
    .action(async (time: string, users: string[], opts: { json?: boolean }, cmd: Command) => {
      const atMs = parseTime(time, "<time>", ctx.io.now());
      const result = await ctx.withSession(cmd, "client", (s) =>
        s.api.call<{ statuses: { user: string; status: string }[] }>("status_at", { users, at_ms: atMs }),
      );
      if (opts.json === true) ctx.json(result);
      else ctx.out(statusAtTable(atMs, result.statuses, ctx.io.now(), ctx.colors()));
    });
}
