/**
 * `herald watch`: live events (CONTRACT.md §5) as they happen: aligned and coloured lines in a
 * terminal, JSON lines (the events themselves) with `--json` or when stdout is not a terminal.
 */
import { type PresenceEvent, subjects } from "@herald/contract";
import type { Msg } from "@nats-io/nats-core";
import type { Command } from "commander";
import { type Context, examples } from "../context.js";
import { eventLine, initialWidths } from "../format.js";
import { reportStatus, untilSignal } from "../lifecycle.js";
import { parseIntIn } from "../parse.js";
import { describeTarget } from "../target.js";

interface WatchOptions {
  user?: string[];
  channel?: string[];
  json?: boolean;
  count?: string;
}

/** The subjects to subscribe to: the users' and channels' own, or every event. */
export function watchSubjects(users: readonly string[], channels: readonly string[]): string[] {
  if (users.length === 0 && channels.length === 0) return [subjects.allEvents];
  return [...new Set([...users.map(subjects.userEvents), ...channels.map(subjects.channelEvents)])];
}

export function registerWatch(program: Command, ctx: Context): void {
  program
    .command("watch")
    .summary("print live events as they happen")
    .description(
      "Prints live events: status changes of users, and joins, updates and leaves of channels. With no --user or --channel, every event (presence.events.>). In a terminal the events are coloured and aligned; with --json, or when stdout is not a terminal, each event is one line of JSON.",
    )
    .option("--user <user...>", "status events of these users (repeatable)")
    .option("--channel <channel...>", "events of these channels (repeatable)")
    .option("--json", "one JSON event per line, even in a terminal")
    .option("--count <n>", "stop after this many events")
    .addHelpText(
      "after",
      examples([
        ["herald watch", "every event"],
        ["herald watch --user 42 --channel room:1 room:2", "one user and two channels"],
        ["herald watch --channel room:1 --json | jq .type", "for scripts"],
        ["herald watch --user 42 --count 1", "wait for user 42's next status change"],
        ["herald --user client --password … watch --user 42", "the NATS user goes before the command"],
      ]),
    )
    .action(async (opts: WatchOptions, cmd: Command) => {
      const max =
        opts.count === undefined ? undefined : parseIntIn(opts.count, "--count", 1, Number.MAX_SAFE_INTEGER);
      const subs = watchSubjects(opts.user ?? [], opts.channel ?? []);
      const asJson = opts.json === true || ctx.io.stdout.isTTY !== true;
      const c = ctx.colors();
      const widths = initialWidths();
      await ctx.withSession(
        cmd,
        "client",
        async (s) => {
          reportStatus(s.nc, ctx);
          let seen = 0;
          let finish: () => void = () => {};
          const enough = new Promise<void>((resolve) => {
            finish = resolve;
          });
          const onMsg = (err: Error | null, m: Msg) => {
            if (err !== null) {
              ctx.err(`herald: ${err.message}`);
              finish();
              return;
            }
            if (max !== undefined && seen >= max) return;
            let e: PresenceEvent;
            try {
              e = m.json<PresenceEvent>();
            } catch {
              ctx.err(`herald: an event on ${m.subject} is not JSON: ${m.string().slice(0, 200)}`);
              return;
            }
            seen++;
            ctx.out(asJson ? JSON.stringify(e) : eventLine(e, widths, c, ctx.io.now()));
            if (max !== undefined && seen >= max) finish();
          };
          for (const subject of subs) s.nc.subscribe(subject, { callback: onMsg });
          await s.nc.flush();
          const stderrColors = ctx.colors(ctx.io.stderr);
          ctx.err(
            stderrColors.dim(
              `watching ${subs.join(", ")} on ${describeTarget(s.target)}${asJson ? "" : " (Ctrl-C to stop)"}`,
            ),
          );
          const signal = untilSignal();
          await Promise.race([enough, signal.promise, s.nc.closed()]);
          signal.cancel();
        },
        { longLived: true },
      );
    });
}
