/**
 * The workers table (pure): each process's answer to `herald.admin.stats.<component>`
 * (runtime's worker.ts: component, pid, uptime, memory and the app's counters) turned into a
 * row with its rate of work and how it looks at a glance. A process that stops answering is
 * kept for a while as not answering, so a dead worker shows before it disappears.
 */
import type { Health, WorkerComponent, WorkerRow } from "@herald/dashboard";

/** Above this many messages behind, a consumer is lagging. */
export const LAG_WARN = 1000;
/** How long a process that stopped answering stays in the table. */
export const FORGET_AFTER_MS = 30_000;

/** The counter whose rate is each component's work. */
const WORK: Record<WorkerComponent, string> = {
  gateway: "appended_commands",
  "presence-actor": "commands",
  "status-projector": "facts",
};

type Json = Record<string, unknown>;

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

function isComponent(v: unknown): v is WorkerComponent {
  return v === "gateway" || v === "presence-actor" || v === "status-projector";
}

interface Seen {
  row: WorkerRow;
  /** The work counter and the process's uptime when it was read. */
  counter: number | undefined;
  uptimeMs: number;
  seenMs: number;
}

function healthOf(
  r: Omit<WorkerRow, "health" | "note">,
  viewReady: unknown,
): { health: Health; note: string } {
  const notes: string[] = [];
  if (r.component === "gateway" && viewReady === false) notes.push("view loading");
  if (r.partitions !== undefined) {
    if (r.partitions.length === 0) notes.push("standby");
    else if ((r.caught_up ?? 0) < r.partitions.length)
      notes.push(
        `catching up ${r.partitions.length - (r.caught_up ?? 0)} of ${r.partitions.length} partitions`,
      );
  }
  if ((r.lag ?? 0) > LAG_WARN) notes.push(`lagging ${r.lag} messages`);
  if ((r.dead_letters ?? 0) > 0) notes.push(`${r.dead_letters} dead letters`);
  const warn = notes.some((n) => n !== "standby");
  return { health: warn ? "warn" : "ok", note: notes.join(", ") };
}

/** One reply as a row (rate and health filled by the table), or undefined when it is not one. */
export function parseStats(
  reply: unknown,
): (Omit<WorkerRow, "health" | "note"> & { counter?: number; viewReady?: unknown }) | undefined {
  if (typeof reply !== "object" || reply === null) return undefined;
  const s = reply as Json;
  const pid = num(s.pid);
  if (!isComponent(s.component) || pid === undefined) return undefined;
  const memory = (typeof s.memory === "object" && s.memory !== null ? s.memory : {}) as Json;
  const partitions = Array.isArray(s.partitions)
    ? s.partitions.filter((p): p is number => num(p) !== undefined)
    : undefined;
  const lag = s.component === "status-projector" ? num(s.pending) : num(s.lag);
  const deadLetters = s.component === "status-projector" ? num(s.deadLettered) : num(s.dead_letters);
  const owner = typeof s.owner === "string" ? s.owner : undefined;
  const caughtUp = num(s.caught_up);
  const wsClients = s.component === "gateway" ? num(s.websocket_clients) : undefined;
  const counter = num(s[WORK[s.component]]);
  return {
    key: `${s.component}:${pid}`,
    component: s.component,
    pid,
    ...(owner !== undefined ? { owner } : {}),
    uptime_ms: num(s.uptime_ms) ?? 0,
    rss_bytes: num(memory.rss) ?? 0,
    heap_used_bytes: num(memory.heapUsed) ?? 0,
    ...(partitions !== undefined ? { partitions } : {}),
    ...(caughtUp !== undefined ? { caught_up: caughtUp } : {}),
    ...(lag !== undefined ? { lag } : {}),
    ...(deadLetters !== undefined ? { dead_letters: deadLetters } : {}),
    ...(wsClients !== undefined ? { ws_clients: wsClients } : {}),
    rate_per_s: null,
    answered: true,
    ...(counter !== undefined ? { counter } : {}),
    viewReady: (s.view as Json | undefined)?.ready,
  };
}

const ORDER: Record<WorkerComponent, number> = { gateway: 0, "presence-actor": 1, "status-projector": 2 };

export class WorkerTable {
  readonly #seen = new Map<string, Seen>();

  /** The rows after a round of replies received at `nowMs`. */
  update(replies: readonly unknown[], nowMs: number): WorkerRow[] {
    const answered = new Set<string>();
    for (const reply of replies) {
      const parsed = parseStats(reply);
      if (parsed === undefined || answered.has(parsed.key)) continue;
      answered.add(parsed.key);
      const { counter, viewReady, ...row } = parsed;
      const before = this.#seen.get(row.key);
      // The rate over the process's own clock; none across a restart (uptime or counter went back).
      const elapsedMs = before === undefined ? 0 : row.uptime_ms - before.uptimeMs;
      const rate =
        before?.counter !== undefined && counter !== undefined && elapsedMs > 0 && counter >= before.counter
          ? ((counter - before.counter) * 1000) / elapsedMs
          : null;
      const withRate = { ...row, rate_per_s: rate };
      this.#seen.set(row.key, {
        row: { ...withRate, ...healthOf(withRate, viewReady) },
        counter,
        uptimeMs: row.uptime_ms,
        seenMs: nowMs,
      });
    }
    for (const [key, seen] of this.#seen) {
      if (answered.has(key)) continue;
      const silentMs = nowMs - seen.seenMs;
      if (silentMs > FORGET_AFTER_MS) {
        this.#seen.delete(key);
        continue;
      }
      seen.row = {
        ...seen.row,
        answered: false,
        rate_per_s: null,
        health: "bad",
        note: `no answer for ${Math.round(silentMs / 1000)} s`,
      };
    }
    return [...this.#seen.values()]
      .map((s) => s.row)
      .sort((a, b) => ORDER[a.component] - ORDER[b.component] || a.pid - b.pid);
  }
}

/** Partitions of `0..total-1` that no answering presence-actor owns. */
export function unownedPartitions(rows: readonly WorkerRow[], total: number): number[] {
  const owned = new Set<number>();
  for (const r of rows) if (r.answered) for (const p of r.partitions ?? []) owned.add(p);
  const unowned: number[] = [];
  for (let p = 0; p < total; p++) if (!owned.has(p)) unowned.push(p);
  return unowned;
}

/** Commands per second over every gateway that has a rate. */
export function commandsPerSecond(rows: readonly WorkerRow[]): number | null {
  const rates = rows.filter((r) => r.component === "gateway" && r.rate_per_s !== null);
  return rates.length === 0 ? null : rates.reduce((sum, r) => sum + (r.rate_per_s ?? 0), 0);
}
