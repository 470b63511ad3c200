/** `herald history --user U | --channel C`: past events from the events stream. */
import type { PresenceEvent } from "@herald/contract";
import type { Command } from "commander";
import { type Context, examples } from "../context.js";
import { UsageError } from "../errors.js";
import { parseIntIn, parseTime } from "../parse.js";
import { historyTable } from "../views.js";

interface HistoryOptions {
  user?: string;
  channel?: string;
  since?: string;
  until?: string;
  limit?: string;
  json?: boolean;
}

/** The `history` params of the options: exactly one of user and channel, times parsed. */
export function historyParams(opts: HistoryOptions, nowMs: number): Record<string, unknown> {
  if ((opts.user === undefined) === (opts.channel === undefined))
    throw new UsageError(
      opts.user !== undefined
        ? "give exactly one of --user and --channel (here --user is the user whose history to show; the NATS user goes before the command: herald --user client history …)"
        : "give exactly one of --user and --channel",
    );
  const params: Record<string, unknown> =
    opts.user !== undefined ? { user: opts.user } : { channel: opts.channel as string };
  if (opts.since !== undefined) params.since_ms = parseTime(opts.since, "--since", nowMs);
  if (opts.until !== undefined) params.until_ms = parseTime(opts.until, "--until", nowMs);
  if (
    typeof params.since_ms === "number" &&
    typeof params.until_ms === "number" &&
    params.since_ms > params.until_ms
  )
    throw new UsageError("invalid --since: it is after --until");
  if (opts.limit !== undefined) params.limit = parseIntIn(opts.limit, "--limit", 1, 1000);
  return params;
}

export function registerHistory(program: Command, ctx: Context): void {
  program
    .command("history")
    .summary("show past events of a user or a channel (history)")
    .description(
      "Shows a user's status changes or a channel's joins, updates and leaves, oldest first, for as long as the events stream keeps them.",
    )
    .option("--user <user>", "a user's status events")
    .option("--channel <channel>", "a channel's join, update and leave events")
    .option("--since <time>", "from this time: ISO 8601, unix ms, relative (10m = 10 minutes ago), or hh:mm")
    .option("--until <time>", "up to this time (same forms as --since)")
    .option("--limit <n>", "at most this many events, 1..1000 (the API's default: 100)")
    .option("--json", "print the API's result as JSON")
    .addHelpText(
      "after",
      examples([
        ["herald history --user 42", "user 42's last status changes"],
        ["herald history --channel room:42 --since 10m", "room:42 in the last 10 minutes"],
        [
          "herald history --user 42 --since 2025-05-01T09:00 --until 2025-05-01T10:00",
          "an hour (local time)",
        ],
        ["herald history --channel room:42 --limit 1000 --json", "as JSON"],
        ["herald --user client --password … history --user 42", "the NATS user goes before the command"],
      ]),
    )
    .action(async (opts: HistoryOptions, cmd: Command) => {
      const params = historyParams(opts, ctx.io.now());
      const result = await ctx.withSession(cmd, "client", (s) =>
        s.api.call<{ events: PresenceEvent[] }>("history", params),
      );
      if (opts.json === true) ctx.json(result);
      else ctx.out(historyTable(result.events, ctx.io.now(), ctx.colors()));
    });
}
