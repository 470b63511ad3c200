/**
 * `pnpm bench`: Herald against baselines measured in the same run (issue 6). Starts its own
 * nats-server (and redis-server), the real workers as processes, and helper processes for the
 * load; prints one table and writes bench/results/latest.json and latest.svg. `--help` lists
 * the options. Every process it starts is stopped at the end, on failure and on Ctrl-C.
 */
import { existsSync } from "node:fs";
import { cleanupAll, cleanupOnSignals } from "./lib/cleanup.js";
import { logDir } from "./lib/herald.js";
import { note } from "./lib/log.js";
import { type Measurement, type Options, parseOptions, USAGE, UsageError } from "./lib/options.js";
import { RedisServer } from "./lib/redis.js";
import { environment, resultsDir, table, writeResults } from "./lib/report.js";
import type { Figure } from "./lib/results.js";
import { measureHttp } from "./measure/http.js";
import { measureLatency } from "./measure/latency.js";
import { measurePopulation } from "./measure/population.js";
import { measureScaling, measureThroughput } from "./measure/throughput.js";
import { measureWebSocket } from "./measure/websocket.js";

/** What the run measured so far (kept when it is interrupted). */
const figures: Figure[] = [];
const errors: string[] = [];
let redisVersion: string | undefined;

async function run(opts: Options): Promise<void> {
  const has = (m: Measurement) => opts.only.has(m);
  // One failed measurement does not cost the others: it is reported and the run goes on.
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      const msg = `${what}: ${(err as Error).stack ?? String(err)}`;
      note(`FAILED ${msg}`);
      errors.push(msg);
    }
  };
  const redis = has("heartbeats") || has("offline") ? await RedisServer.start() : undefined;
  redisVersion = redis?.version;
  let oneActorRate: number | undefined;
  if (has("heartbeats") || has("queries")) {
    await attempt("heartbeats/queries", async () => {
      oneActorRate = await measureThroughput(
        opts,
        redis as RedisServer,
        { heartbeats: has("heartbeats"), queries: has("queries") },
        figures,
      );
    });
  }
  if (has("scaling"))
    await attempt("scaling", async () => void figures.push(...(await measureScaling(opts, oneActorRate))));
  if (has("latency"))
    await attempt("latency", async () => void figures.push(...(await measureLatency(opts))));
  if (has("offline") || has("memory") || has("recovery")) {
    await attempt("offline/memory/recovery", async () => {
      const which = { offline: has("offline"), memory: has("memory"), recovery: has("recovery") };
      await measurePopulation(opts, redis as RedisServer, which, figures);
    });
  }
  if (has("http")) await attempt("http", () => measureHttp(opts, figures));
  if (has("websocket")) await attempt("websocket", () => measureWebSocket(opts, figures));
  await redis?.stop();
}

/**
 * The order of the figures in the table (the items a, e, b, c, d, f), then scaling, http
 * and websocket.
 */
const ORDER: readonly string[] = [
  "heartbeats",
  "queries",
  "latency",
  "offline",
  "memory",
  "recovery",
  "scaling",
  "http",
  "websocket",
] satisfies readonly Measurement[];
const rank = (f: Figure) => ORDER.indexOf(f.id.split(".")[0] as string);

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  const opts = parsed;
  cleanupOnSignals(() => {
    errors.push("interrupted: the figures are those measured before the interruption");
    report(opts);
  });
  note(`measurements: ${[...opts.only].join(", ")}${opts.quick ? " (quick)" : ""}`);
  try {
    await run(opts);
    report(opts);
    return errors.length > 0 ? 1 : 0;
  } finally {
    await cleanupAll();
  }
}

/** Prints the table and writes the result files. */
function report(opts: Options): void {
  figures.sort((x, y) => rank(x) - rank(y));
  const env = environment(opts, redisVersion);
  process.stdout.write(`\n${table(figures)}\n`);
  writeResults(figures, env, errors);
  note(`results: ${resultsDir}/latest.json and latest.svg`);
  if (existsSync(logDir)) note(`worker logs: ${logDir}`);
  if (errors.length > 0) note(`${errors.length} error(s); see above and latest.json`);
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    await cleanupAll();
    process.exit(1);
  },
);
