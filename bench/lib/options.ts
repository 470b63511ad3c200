/** Command-line options of `pnpm bench`. */

export const MEASUREMENTS = ["a", "b", "c", "d", "e", "f", "scaling"] as const;
export type Measurement = (typeof MEASUREMENTS)[number];

export interface Options {
  readonly only: ReadonlySet<Measurement>;
  readonly quick: boolean;
  /** Tracked users of (c), (d) and (f). */
  readonly users: number;
  /** Live users of (a), (e) and the scaling runs. */
  readonly hbUsers: number;
  /** Sustained window of (a) and the baselines. */
  readonly windowMs: number;
  readonly warmupMs: number;
  /** Changes per second of (b), and how long it runs. */
  readonly changeRate: number;
  readonly changeMs: number;
  /** presence-actor process counts of the scaling runs. */
  readonly scaling: readonly number[];
}

export const USAGE = `usage: pnpm bench [options]

  --only a,b,...   run only these measurements (a b c d e f scaling); default: all
  --scaling        the same as --only scaling (throughput with 1, 2 and 4 presence-actors)
  --quick          short windows and fewer users, for development
  --users N        tracked users of (c), (d) and (f) (default 1000000, quick 50000)
  --hb-users N     live users of (a), (e) and scaling (default 100000, quick 20000)
  --window S       seconds of each sustained throughput window (default 30, quick 8)
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
      case "--only": {
        const list = (argv[++i] ?? "").split(",").filter((s) => s !== "");
        for (const m of list) {
          if (!(MEASUREMENTS as readonly string[]).includes(m))
            throw new UsageError(`unknown measurement ${m}`);
        }
        if (list.length === 0) throw new UsageError("--only needs a list, e.g. --only a,e");
        only = new Set(list as Measurement[]);
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
  };
}
