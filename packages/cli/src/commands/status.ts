/** `herald status <user…>`: get_user_status as a table. */
import type { UserStatus } from "@herald/contract";
import type { Command } from "commander";
import { type Context, examples } from "../context.js";
import { statusTable } from "../views.js";

export function registerStatus(program: Command, ctx: Context): void {
  program
    .command("status")
    .summary("show users' statuses (get_user_status)")
    .description(
      "Shows each user's status (online, away, offline), when it was last online and active, and its manual status (dnd, invisible).",
    )
    .argument("<user...>", "user ids (1..1000)")
    .option("--hidden", "show an invisible user's real status (include_hidden: for trusted backends)")
    .option("--json", "print the API's result as JSON")
    .addHelpText(
      "after",
      examples([
        ["herald status 42", "one user"],
        ["herald status alice bob carol", "several, in this order"],
        ["herald status 42 --json | jq -r '.statuses[0].status'", "for scripts"],
      ]),
    )
    .action(async (users: string[], opts: { hidden?: boolean; json?: boolean }, cmd: Command) => {
      const params = { users, ...(opts.hidden === true ? { include_hidden: true } : {}) };
      const result = await ctx.withSession(cmd, "client", (s) =>
        s.api.call<{ statuses: UserStatus[] }>("get_user_status", params),
      );
      if (opts.json === true) ctx.json(result);
      else ctx.out(statusTable(result.statuses, ctx.io.now(), ctx.colors()));
    });
}
