/**
 * `herald top`: a live view of the system, refreshed every second: totals from the gateways
 * and one row per worker process (gateway, presence-actor, status-projector), from their
 * answers to `herald.admin.stats.<component>` (NATS user admin). `q` or Ctrl-C quits.
 */
import type { Command } from "commander";
import { type Context, examples } from "../context.js";
import { untilSignal } from "../lifecycle.js";
import { parseDuration } from "../parse.js";
import { describeTarget } from "../target.js";
import { FullScreen } from "../terminal.js";
import { renderTop } from "../top-view.js";
import { collectStats, type StatsSnapshot } from "../workers.js";

interface TopOptions {
  interval: string;
  once?: boolean;
  json?: boolean;
}

const QUIT_KEYS = new Set(["q", "Q", "\x03", "\x1b"]);

export function registerTop(program: Command, ctx: Context): void {
  program
    .command("top")
    .summary("live view of the workers and totals (admin)")
    .description(
      "A live view refreshed every second: users, conns and channels (as the gateways see them), command and fact rates, and every worker process (gateway, presence-actor, status-projector) with its pid, uptime, memory, partitions owned, whether it is caught up and its consumer lag. Needs the NATS user admin (herald.admin.stats.>; inbox prefix _INBOX_admin by default). Press q or Ctrl-C to quit. When stdout is not a terminal, a snapshot is printed every interval; --once prints one and exits.",
    )
    .option("--interval <duration>", "refresh period", "1s")
    .option("--once", "print one snapshot and exit")
    .option("--json", "with --once: the processes' stats as JSON")
    .addHelpText(
      "after",
      examples([
        ["herald top --user admin --password $HERALD_ADMIN_PASSWORD", "the live view"],
        ["herald top --once", "one snapshot, e.g. in a script or a log"],
        [
          "herald top --once --json | jq '.workers[\"presence-actor\"][].partitions'",
          "partitions per process",
        ],
      ]),
    )
    .action(async (opts: TopOptions, cmd: Command) => {
      const intervalMs = parseDuration(opts.interval, "--interval");
      const tty = ctx.io.stdout.isTTY === true && opts.once !== true;
      await ctx.withSession(
        cmd,
        "admin",
        async (s) => {
          const title = describeTarget(s.target);
          const now = () => ctx.io.now();
          const snapshot = () => collectStats(s.nc, now, s.target.user, Math.min(1000, intervalMs));
          const render = (cur: StatsSnapshot, prev: StatsSnapshot | undefined) =>
            renderTop(cur, prev, {
              title: tty ? `${title} — every ${opts.interval}, q to quit` : title,
              width: (ctx.io.stdout.columns ?? 0) > 0 ? (ctx.io.stdout.columns as number) : 200,
              colors: ctx.colors(),
            });
          if (opts.once === true) {
            const first = await snapshot();
            if (opts.json === true) ctx.json(first);
            else ctx.out(render(first, undefined).join("\n"));
            return;
          }
          const signal = untilSignal();
          let quit: () => void = () => {};
          const quitting = new Promise<void>((resolve) => {
            quit = resolve;
          });
          const screen = tty ? new FullScreen(ctx.io.stdout, ctx.io.stdin) : undefined;
          screen?.enter((key) => {
            if (QUIT_KEYS.has(key)) quit();
          });
          try {
            let prev: StatsSnapshot | undefined;
            let stop = false;
            void Promise.race([quitting, signal.promise, s.nc.closed()]).then(() => {
              stop = true;
            });
            while (!stop) {
              const started = ctx.io.now();
              const cur = await snapshot();
              if (stop) break;
              const lines = render(cur, prev);
              if (screen !== undefined) screen.draw(lines);
              else ctx.out(`${lines.join("\n")}\n`);
              prev = cur;
              const wait = Math.max(0, intervalMs - (ctx.io.now() - started));
              let timer: NodeJS.Timeout | undefined;
              await Promise.race([
                new Promise<void>((resolve) => {
                  timer = setTimeout(resolve, wait);
                }),
                quitting,
                signal.promise,
              ]);
              clearTimeout(timer);
            }
          } finally {
            signal.cancel();
            screen?.leave();
          }
        },
        { longLived: true },
      );
    });
}
