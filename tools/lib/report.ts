/** Small helpers the tools share: arguments, tables, sizes, a bounded pool. */
import { parseArgs } from "node:util";

/** `--name value` options as numbers (every option of the tools is a number); `--help`. */
export function numberArgs(
  usage: string,
  defaults: Readonly<Record<string, number | undefined>>,
): Record<string, number | undefined> {
  const options = Object.fromEntries(Object.keys(defaults).map((k) => [k, { type: "string" as const }]));
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ options: { ...options, help: { type: "boolean" } }, strict: true }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage}`);
    process.exit(2);
  }
  if (values.help === true) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const out: Record<string, number | undefined> = { ...defaults };
  for (const [k, v] of Object.entries(values)) {
    if (k === "help" || typeof v !== "string") continue;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) {
      process.stderr.write(`--${k}: not a number ≥ 0: ${v}\n\n${usage}`);
      process.exit(2);
    }
    out[k] = n;
  }
  return out;
}

export const mib = (bytes: number | undefined): string =>
  bytes === undefined ? "—" : `${(bytes / 1048576).toFixed(1)} MiB`;

/** A text table: a header row and rows, columns padded (numbers to the right). */
export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[], raw: readonly (string | number)[]) =>
    r
      .map((c, i) => (typeof raw[i] === "number" ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [
    line(cells[0] ?? [], header),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.map((r, i) => line(cells[i + 1] ?? [], r)),
  ].join("\n");
}

/** Runs `fn` over `items` with at most `limit` at once. */
export async function pool<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Counts by key. */
export class Tally {
  readonly counts = new Map<string, number>();
  add(key: string, n = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }
  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }
  rows(): [string, number][] {
    return [...this.counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

/** The first `max` examples of each kind of problem, and how many there were. */
export class Examples {
  readonly #byKind = new Map<string, { n: number; first: string[] }>();
  constructor(readonly max = 5) {}
  add(kind: string, example: string): void {
    const e = this.#byKind.get(kind) ?? { n: 0, first: [] };
    e.n++;
    if (e.first.length < this.max) e.first.push(example);
    this.#byKind.set(kind, e);
  }
  count(kind: string): number {
    return this.#byKind.get(kind)?.n ?? 0;
  }
  print(): string {
    return [...this.#byKind]
      .map(([kind, e]) => `${kind}: ${e.n}\n${e.first.map((x) => `  - ${x}`).join("\n")}`)
      .join("\n");
  }
}
