#!/usr/bin/env node
// Entry point of the rebuild tool: `pnpm projections:rebuild [-- --suffix <name>] [--compare]`,
// configured by the environment like the workers. Progress and problems go to stderr; the
// differences and the one-line summary (last) go to stdout.
import { parseArgs } from "node:util";
import { type Config, ConfigError, type LogLevel, loadConfig, streams } from "@herald/protocol";
import { connectNats, createLogger, EXIT_CONFIG, type Logger } from "@herald/runtime";
import type { NatsConnection } from "@nats-io/nats-core";
import { InvalidSuffixError } from "./errors.js";
import { count, ProgressBar, rate } from "./progress.js";
import {
  type BucketDiff,
  checkSuffix,
  compareProjections,
  DEFAULT_SUFFIX,
  differences,
  PROJECTIONS,
  rebuildProjections,
} from "./rebuild.js";

const PROG = "projections:rebuild";
/** Exit code of a bad command line (as most tools). */
const EXIT_USAGE = 2;
/** A tool should fail, not wait for ever, when NATS is not there. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Keys listed per kind of difference and bucket; the rest are counted. */
const LISTED = 50;

const USAGE = `Usage: pnpm projections:rebuild [-- options]
       node packages/status-projector/dist/rebuild-main.js [options]

Rebuilds ${PROJECTIONS.join(" and ")} from the facts in ${streams.events} into fresh buckets
<bucket>_<suffix> (deleted first). The live buckets are not touched.

Options:
  --suffix <name>  suffix of the rebuilt buckets, [A-Za-z0-9_-]+ (default: ${DEFAULT_SUFFIX})
  --compare        then compare them with the live buckets; exit 1 on any difference
  -h, --help       show this help

Environment: as the workers (NATS_URL, HERALD_REPLICAS, LOG_LEVEL, ...).
Exit codes: 0 done (no differences), 1 differences or failure, 2 bad usage, 78 bad configuration.
`;

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${PROG}: ${line}\n`);

/** Connects with the workers' settings, giving up after {@link CONNECT_TIMEOUT_MS}. */
async function connect(config: Config, log: Logger): Promise<NatsConnection> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `could not connect to NATS (${config.nats.servers.join(", ")}) within ${CONNECT_TIMEOUT_MS / 1000} s`,
          ),
        ),
      CONNECT_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([connectNats(config.nats, "herald-projections-rebuild", log), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** One line per differing key (the first {@link LISTED} of each kind). */
function printDiffs(diffs: readonly BucketDiff[]): void {
  for (const d of diffs) {
    for (const kind of ["missing", "extra", "different"] as const) {
      const keys = d[kind];
      for (const key of keys.slice(0, LISTED)) out(`${kind} ${d.bucket} ${key}`);
      if (keys.length > LISTED) out(`${kind} ${d.bucket} ... and ${count(keys.length - LISTED)} more`);
    }
  }
}

function compareSummary(diffs: readonly BucketDiff[]): string {
  const n = differences(diffs);
  if (n === 0) return "compare: no differences";
  const sum = (kind: "missing" | "extra" | "different") =>
    count(diffs.reduce((s, d) => s + d[kind].length, 0));
  return `compare: ${count(n)} difference${n === 1 ? "" : "s"} (${sum("missing")} missing, ${sum("extra")} extra, ${sum("different")} different)`;
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let flags: { suffix?: string | undefined; compare?: boolean | undefined; help?: boolean | undefined };
  try {
    // `pnpm <script> -- --flag` may pass the `--` on.
    const args = argv[0] === "--" ? argv.slice(1) : [...argv];
    flags = parseArgs({
      args,
      options: {
        suffix: { type: "string" },
        compare: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    err(`${(e as Error).message} (see --help)`);
    return EXIT_USAGE;
  }
  if (flags.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  const suffix = flags.suffix ?? DEFAULT_SUFFIX;
  try {
    checkSuffix(suffix);
  } catch (e) {
    if (!(e instanceof InvalidSuffixError)) throw e;
    err(`--suffix: ${e.message}`);
    return EXIT_USAGE;
  }

  let config: Config;
  try {
    config = loadConfig(env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    err(e.message);
    return EXIT_CONFIG;
  }
  // The tool's output is its progress and summary: only connection trouble is logged.
  const level: LogLevel = ["silent", "fatal", "error"].includes(config.logLevel) ? config.logLevel : "warn";
  const log = createLogger({ level, format: config.logFormat, component: PROG });

  const bar = new ProgressBar(process.stderr);
  let nc: NatsConnection | undefined;
  try {
    nc = await connect(config, log);
    const result = await rebuildProjections(nc, config, { suffix, onProgress: (p) => bar.update(p) });
    bar.end();
    for (const f of result.invalidFacts) err(`skipped invalid fact ${f.seq} (${f.subject}): ${f.reason}`);
    if (result.invalid > result.invalidFacts.length)
      err(`... and ${count(result.invalid - result.invalidFacts.length)} more invalid facts`);
    if (result.firstSeq > 1)
      err(
        `warning: ${streams.events} starts at sequence ${result.firstSeq}: older facts have expired, ` +
          "so keys whose last fact was older are missing from the rebuild",
      );
    const seconds = result.elapsedMs / 1000;
    let summary =
      `rebuilt ${result.buckets.join(", ")}: ${count(result.facts)} facts, ${count(result.invalid)} invalid, ` +
      `${count(result.writes)} writes, ${count(result.keys)} keys in ${seconds.toFixed(1)} s ` +
      `(${rate(seconds > 0 ? result.facts / seconds : 0)})`;
    let code = 0;
    if (flags.compare === true) {
      const diffs = await compareProjections(nc, suffix);
      printDiffs(diffs);
      summary += `; ${compareSummary(diffs)}`;
      if (differences(diffs) > 0) code = 1;
    }
    out(summary);
    return code;
  } catch (e) {
    bar.end();
    err(`failed: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    await nc?.close().catch(() => {});
  }
}

process.exit(await main(process.argv.slice(2), process.env));
