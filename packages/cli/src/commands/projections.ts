/**
 * `herald projections rebuild`: status-projector's rebuild of the KV projections from the facts
 * (the function behind `pnpm projections:rebuild`), with a progress bar, as user admin.
 */
import { buckets, type Config, ConfigError, loadConfig } from "@herald/protocol";
// Types only: the rebuild (and the JetStream, KV and worker code it brings) is loaded when the
// command runs, so that every other command starts fast.
import type { BucketDiff, RebuildProgress } from "@herald/status-projector";
import { SingleBar } from "cli-progress";
import type { Command } from "commander";
import { type Context, examples, type OutStream } from "../context.js";
import { CliError, UsageError } from "../errors.js";
import { count, rate } from "../format.js";
import { natsErrorMessage } from "../nats.js";

/** Keys listed per kind of difference and bucket; the rest are counted. */
const LISTED = 50;

interface RebuildOptions {
  suffix?: string;
  compare?: boolean;
}

/** Progress on a terminal (a bar redrawn in place), or a line at every 10 % (a log, CI). */
class RebuildBar {
  readonly #bar: SingleBar | undefined;
  #step = -1;
  #started = false;

  constructor(readonly out: OutStream) {
    this.#bar =
      out.isTTY === true
        ? new SingleBar({
            stream: out as NodeJS.WritableStream,
            format: "rebuild [{bar}] {percentage}% {value}/{total} facts {speed}",
            barsize: 20,
            barCompleteChar: "#",
            barIncompleteChar: ".",
            hideCursor: true,
            formatValue: (v, _o, type) => (type === "value" || type === "total" ? count(v) : String(v)),
          })
        : undefined;
  }

  update(p: RebuildProgress): void {
    const speed = rate(p.elapsedMs > 0 ? (p.read * 1000) / p.elapsedMs : 0);
    if (this.#bar !== undefined) {
      if (!this.#started) this.#bar.start(Math.max(p.total, 1), 0, { speed });
      this.#started = true;
      this.#bar.setTotal(Math.max(p.total, 1));
      this.#bar.update(p.total <= 0 ? 1 : p.read, { speed });
      return;
    }
    const pct = p.total <= 0 ? 100 : Math.min(100, Math.floor((p.read * 100) / p.total));
    const step = Math.floor(pct / 10);
    if (step > this.#step) {
      this.#step = step;
      this.out.write(`rebuild ${pct}% ${count(p.read)}/${count(p.total)} facts ${speed}\n`);
    }
  }

  end(): void {
    if (this.#started) this.#bar?.stop();
    this.#started = false;
  }
}

/** Lines of differences: the first {@link LISTED} keys of each kind and bucket. */
export function diffLines(diffs: readonly BucketDiff[]): string[] {
  const lines: string[] = [];
  for (const d of diffs) {
    for (const kind of ["missing", "extra", "different"] as const) {
      const keys = d[kind];
      for (const key of keys.slice(0, LISTED)) lines.push(`${kind} ${d.bucket} ${key}`);
      if (keys.length > LISTED) lines.push(`${kind} ${d.bucket} ... and ${count(keys.length - LISTED)} more`);
    }
  }
  return lines;
}

export function registerProjections(program: Command, ctx: Context): void {
  const projections = program
    .command("projections")
    .summary("the KV projections (rebuild)")
    .description("Operations on the KV projections that status-projector maintains.");
  projections
    .command("rebuild")
    .summary("rebuild the projections from the facts into fresh buckets (admin)")
    .description(
      `Rebuilds ${buckets.status} and ${buckets.members} from the facts in the events stream into fresh buckets <bucket>_<suffix> (deleted first), as \`pnpm projections:rebuild\` does; the live buckets are not touched. With --compare, then compares them with the live buckets and exits 1 on any difference. Needs the NATS user admin (nats-auth.conf allows it the default suffix only). Stream settings (HERALD_REPLICAS, ...) come from the environment, as for the workers.`,
    )
    .option(
      "--suffix <name>",
      "suffix of the rebuilt buckets, [A-Za-z0-9_-]+ (default: the rebuild's own, rebuild)",
    )
    .option("--compare", "then compare them with the live buckets; exit 1 on any difference")
    .addHelpText(
      "after",
      examples([
        ["herald projections rebuild", "rebuild into presence_status_rebuild and presence_members_rebuild"],
        ["herald projections rebuild --compare", "and check that the live projections match"],
      ]),
    )
    .action(async (opts: RebuildOptions, cmd: Command) => {
      if (opts.suffix !== undefined && !/^[A-Za-z0-9_-]+$/.test(opts.suffix))
        throw new UsageError(
          `invalid --suffix: ${JSON.stringify(opts.suffix)} may hold only letters, digits, _ and -`,
        );
      const { compareProjections, DEFAULT_SUFFIX, differences, rebuildProjections } = await import(
        "@herald/status-projector"
      );
      const suffix = opts.suffix ?? DEFAULT_SUFFIX;
      const target = ctx.target(cmd, "admin");
      let config: Config;
      try {
        // The workers' settings (replicas, max age) shape the rebuilt buckets; NATS is ours.
        config = loadConfig({ ...ctx.io.env, NATS_URL: target.servers.join(",") });
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message);
        throw err;
      }
      await ctx.withSession(cmd, "admin", async (s) => {
        const bar = new RebuildBar(ctx.io.stderr);
        let code = 0;
        try {
          const result = await rebuildProjections(s.nc, config, {
            suffix,
            onProgress: (p) => bar.update(p),
          });
          bar.end();
          for (const f of result.invalidFacts)
            ctx.err(`skipped invalid fact ${f.seq} (${f.subject}): ${f.reason}`);
          if (result.invalid > result.invalidFacts.length)
            ctx.err(`... and ${count(result.invalid - result.invalidFacts.length)} more invalid facts`);
          if (result.firstSeq > 1)
            ctx.err(
              `warning: the events stream starts at sequence ${result.firstSeq}: older facts have expired, so keys whose last fact was older are missing from the rebuild`,
            );
          const seconds = result.elapsedMs / 1000;
          let summary =
            `rebuilt ${result.buckets.join(", ")}: ${count(result.facts)} facts, ${count(result.invalid)} invalid, ` +
            `${count(result.writes)} writes, ${count(result.keys)} keys in ${seconds.toFixed(1)} s ` +
            `(${rate(seconds > 0 ? result.facts / seconds : 0)})`;
          if (opts.compare === true) {
            const diffs = await compareProjections(s.nc, suffix);
            for (const line of diffLines(diffs)) ctx.out(line);
            const n = differences(diffs);
            summary +=
              n === 0
                ? "; compare: no differences"
                : `; compare: ${count(n)} difference${n === 1 ? "" : "s"}`;
            if (n > 0) code = 1;
          }
          ctx.out(summary);
        } catch (err) {
          bar.end();
          if (err instanceof CliError) throw err;
          const message = err instanceof Error ? err.message : String(err);
          throw new CliError(
            /permissions? violation/i.test(message)
              ? natsErrorMessage(err, "the rebuild", s.timeoutMs, s.target.user)
              : `rebuild failed: ${message}`,
          );
        }
        if (code !== 0) throw new CliError("the rebuilt projections differ from the live ones");
      });
    });
}
