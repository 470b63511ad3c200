/** Command-line options of `pnpm bench`. */

/** The measurements: the issue's items a to f in that order, then scaling. */
export const MEASUREMENTS = [
  "heartbeats",
  "latency",
  "offline",
  "memory",
  "queries",
  "recovery",
  "scaling",
  "http",
  "websocket",
] as const;
export type Measurement = (typeof MEASUREMENTS)[number];

/** What each measurement measures, for `--help`. */
const DESCRIPTIONS: Readonly<Record<Measurement, string>> = {
  heartbeats: "end-to-end heartbeat throughput vs core NATS and Redis",
  latency: "change → live event and → visible to get_user_status",
  offline: "offline detection lag vs Redis key expiry",
  memory: "heap/RSS per tracked user vs an xstate actor per user",
  queries: "get_user_status ×1000 under load",
  recovery: "clean stop / kill -9 → caught up, replay rate",
  scaling: "heartbeat throughput with 1, 2 and 4 presence-actors",
  http: "get_user_status ×1000 and heartbeats ×1000 over HTTP vs NATS request-reply",
  websocket: "gateway RSS per WebSocket client, CPU and join → push latency under churn",
};

/** The measurements' former names, the issue's item letters; `--only` still takes them. */
const LETTERS: ReadonlyMap<string, Measurement> = new Map([
  ["a", "heartbeats"],
  ["b", "latency"],
  ["c", "offline"],
  ["d", "memory"],
  ["e", "queries"],
  ["f", "recovery"],
]);

/** A name of `--only` (a measurement or its old letter) as a measurement; undefined if unknown. */
export function measurementOf(name: string): Measurement | undefined {
  const m = LETTERS.get(name) ?? name;
  return (MEASUREMENTS as readonly string[]).includes(m) ? (m as Measurement) : undefined;
}

export interface Options {
  readonly only: ReadonlySet<Measurement>;
  readonly quick: boolean;
  /** Tracked users of offline, memory and recovery. */
  readonly users: number;
  /** Live users of heartbeats, queries and the scaling runs. */
  readonly hbUsers: number;
  /** Sustained window of heartbeats and the baselines. */
  readonly windowMs: number;
  readonly warmupMs: number;
  /** Changes per second of latency, and how long it runs. */
  readonly changeRate: number;
  readonly changeMs: number;
  /** presence-actor process counts of the scaling runs. */
  readonly scaling: readonly number[];
  /** Requests in flight, over NATS and over HTTP alike, in `http`. */
  readonly httpConcurrency: number;
  /** WebSocket clients of `websocket`, members per channel, subscribers per channel. */
  readonly wsClients: number;
  readonly wsChannel: number;
  readonly wsSubscribers: number;
  /** Joins plus leaves per second (all clients together) in the churn phase of `websocket`. */
  readonly wsRate: number;
}

const width = Math.max(...MEASUREMENTS.map((m) => m.length));
const letterOf = (m: Measurement) => [...LETTERS].find(([, named]) => named === m)?.[0];
const listed = MEASUREMENTS.map((m) => {
  const letter = letterOf(m);
  return `                     ${m.padEnd(width)}  ${letter ? `(${letter})` : "   "}  ${DESCRIPTIONS[m]}`;
});

export const USAGE = `usage: pnpm bench [options]

  --only m,m,...   run only these measurements (default: all of them); the old letters in
                   parentheses still work as aliases (--only a,d,f = heartbeats,memory,recovery)
${listed.join("\n")}
  --scaling        the same as --only scaling
  --http           the same as --only http
  --http-concurrency N  requests in flight in http, on either transport (default 8)
  --websocket      the same as --only websocket
  --ws-clients N   WebSocket clients of websocket (default 10000, quick 2000)
  --ws-channel N   members per channel in websocket (default 100)
  --ws-subscribers N  members of each channel that also subscribe to it (default 10; at most
                   the channel's size: --ws-subscribers 100 is every member, 100 pushes a join)
  --ws-rate N      joins + leaves per second, all clients together, while churning (default 200)
  --quick          short windows and fewer users, for development
  --users N        tracked users of offline, memory and recovery (default 1000000, quick 50000)
  --hb-users N     live users of heartbeats, queries and scaling (default 100000, quick 20000)
  --window S       seconds of each sustained throughput window, and of the churn of websocket
                   (default 30, quick 8)
  --help           this text
`;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

function positiveInt(flag: string, raw: string | undefined): number {
  const n = Number(raw);
  if (raw === undefined || !Number.isSafeInteger(n) || n <= 0) {
    throw new UsageError(`${flag} needs a positive integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

export function parseOptions(argv: readonly string[]): Options | "help" {
  let quick = false;
  let only: Set<Measurement> | undefined;
  let users: number | undefined;
  let hbUsers: number | undefined;
  let windowS: number | undefined;
  let httpConcurrency: number | undefined;
  let wsClients: number | undefined;
  let wsChannel: number | undefined;
  let wsSubscribers: number | undefined;
  let wsRate: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    switch (arg) {
      case "--":
        break;
      case "--help":
      case "-h":
        return "help";
      case "--quick":
        quick = true;
        break;
      case "--scaling":
        only = new Set(["scaling"]);
        break;
      case "--http":
        only = new Set(["http"]);
        break;
      case "--http-concurrency":
        httpConcurrency = positiveInt(arg, argv[++i]);
        break;
      case "--websocket":
        only = new Set(["websocket"]);
        break;
      case "--ws-clients":
        wsClients = positiveInt(arg, argv[++i]);
        break;
      case "--ws-channel":
        wsChannel = positiveInt(arg, argv[++i]);
        break;
      case "--ws-subscribers":
        wsSubscribers = positiveInt(arg, argv[++i]);
        break;
      case "--ws-rate":
        wsRate = positiveInt(arg, argv[++i]);
        break;
      case "--only": {
        const list = (argv[++i] ?? "").split(",").filter((s) => s !== "");
        if (list.length === 0) throw new UsageError("--only needs a list, e.g. --only heartbeats,queries");
        only = new Set(
          list.map((name) => {
            const m = measurementOf(name);
            if (m === undefined) throw new UsageError(`unknown measurement ${name} (see the list below)`);
            return m;
          }),
        );
        break;
      }
      case "--users":
        users = positiveInt(arg, argv[++i]);
        break;
      case "--hb-users":
        hbUsers = positiveInt(arg, argv[++i]);
        break;
      case "--window":
        windowS = positiveInt(arg, argv[++i]);
        break;
      default:
        throw new UsageError(`unknown option ${arg}`);
    }
  }
  return {
    only: only ?? new Set(MEASUREMENTS),
    quick,
    users: users ?? (quick ? 50_000 : 1_000_000),
    hbUsers: hbUsers ?? (quick ? 20_000 : 100_000),
    windowMs: (windowS ?? (quick ? 8 : 30)) * 1000,
    warmupMs: quick ? 2000 : 5000,
    changeRate: 5000,
    changeMs: quick ? 6000 : 20_000,
    scaling: [1, 2, 4],
    httpConcurrency: httpConcurrency ?? 8,
    wsClients: wsClients ?? (quick ? 2000 : 10_000),
    wsChannel: wsChannel ?? 100,
    wsSubscribers: wsSubscribers ?? 10,
    wsRate: wsRate ?? 200,
  };
}
