/**
 * Turns what the monitor gathers each second into the tick the pages get (pure: time is an
 * argument): rates from the difference between two samples, query latency from the histogram's
 * buckets observed in between, the workers table, and the recent points of the charts.
 */
import type { ChannelCount, SeriesPoint, Tick, WorkerRow } from "@herald/dashboard";
import { bucketsSince, quantile } from "./histogram.js";
import type { RegistrySample } from "./registry.js";
import { commandsPerSecond, unownedPartitions, WorkerTable } from "./workers.js";

/** How far back the charts go. */
export const SERIES_WINDOW_MS = 10 * 60_000;

export interface Sample {
  readonly atMs: number;
  readonly registry: RegistrySample;
  /** Live events received since the previous sample. */
  readonly events: number;
  /** The workers' stats replies; undefined when they could not be asked (no NATS link yet). */
  readonly stats: readonly unknown[] | undefined;
  /** undefined: not read this time (the last reading stands). */
  readonly deadLetters: Tick["dead_letters"] | undefined;
  readonly topChannels: readonly ChannelCount[];
}

const ms = (seconds: number | null): number | null =>
  seconds === null ? null : Math.round(seconds * 1_000_000) / 1000;
const perSecond = (n: number, elapsedMs: number): number => Math.round((n * 1000 * 100) / elapsedMs) / 100;

export class Sampler {
  readonly #partitions: number;
  readonly #workers = new WorkerTable();
  readonly #series: SeriesPoint[] = [];
  #previous: Sample | undefined;
  #workerRows: Tick["workers"] = [];
  #workersAt: number | null = null;
  #deadLetters: Tick["dead_letters"] = null;

  constructor(partitions: number) {
    this.#partitions = partitions;
  }

  /** The charts' points, oldest first. */
  get series(): readonly SeriesPoint[] {
    return this.#series;
  }

  next(s: Sample): Tick {
    const before = this.#previous;
    const elapsedMs = before === undefined ? 0 : s.atMs - before.atMs;
    if (s.stats !== undefined) {
      this.#workerRows = this.#workers.update(s.stats, s.atMs);
      this.#workersAt = s.atMs;
    }
    if (s.deadLetters !== undefined) this.#deadLetters = s.deadLetters;
    let point: SeriesPoint = {
      at_ms: s.atMs,
      commands_per_s: null,
      events_per_s: null,
      queries_per_s: null,
      query_p50_ms: null,
      query_p99_ms: null,
    };
    if (before !== undefined && elapsedMs > 0) {
      const queries = bucketsSince(before.registry.queryBuckets, s.registry.queryBuckets);
      point = {
        at_ms: s.atMs,
        commands_per_s: s.stats === undefined ? null : commandsPerSecond(this.#workerRows),
        events_per_s: perSecond(s.events, elapsedMs),
        queries_per_s: perSecond(queries.get(Number.POSITIVE_INFINITY) ?? 0, elapsedMs),
        query_p50_ms: ms(quantile(0.5, queries)),
        query_p99_ms: ms(quantile(0.99, queries)),
      };
    }
    this.#previous = s;
    this.#series.push(point);
    while ((this.#series[0]?.at_ms ?? s.atMs) < s.atMs - SERIES_WINDOW_MS) this.#series.shift();
    return {
      ...point,
      totals: {
        ...s.registry.totals,
        ws_clients: wsClients(this.#workerRows) ?? s.registry.totals.ws_clients,
      },
      view_ready: s.registry.viewReady,
      workers: this.#workerRows,
      workers_at_ms: this.#workersAt,
      partitions: {
        total: this.#partitions,
        unowned: this.#workersAt === null ? [] : unownedPartitions(this.#workerRows, this.#partitions),
      },
      dead_letters: this.#deadLetters,
      top_channels: s.topChannels,
    };
  }
}

/** The WebSocket clients of every gateway that answered, or undefined when none said. */
function wsClients(rows: readonly WorkerRow[]): number | undefined {
  const counts = rows.filter((r) => r.answered && r.ws_clients !== undefined).map((r) => r.ws_clients ?? 0);
  return counts.length === 0 ? undefined : counts.reduce((a, b) => a + b, 0);
}
