/**
 * presence-actor's metrics (README "Metrics"). Counters are the process's: a partition that
 * moves away takes nothing from them, so they only grow while the process runs; gauges are read
 * from the partitions it runs when scraped.
 */
import { gaugeOf, type Registry } from "@herald/runtime";
import { Counter, Gauge, Histogram } from "prom-client";
import type { Output } from "./partition.js";

export interface ActorGaugeSources {
  /** Partitions whose lease this process holds. */
  readonly owned: () => number;
  /** The partitions this process runs now. */
  readonly runners: () => Iterable<{
    readonly caughtUp: boolean;
    readonly lag: number;
    readonly partition: {
      readonly users: { readonly size: number };
      readonly timers: { readonly size: number };
    };
  }>;
}

export class ActorMetrics {
  readonly #events: Counter<"type">;
  readonly #facts: Counter;
  readonly #deadLetters: Counter;
  readonly #group: Histogram;
  readonly #step: Histogram;
  readonly #replayed: Counter;
  readonly #ticks: Counter;
  /** Dead letters stored by this process (also in its stats). */
  deadLetters = 0;

  constructor(registry: Registry, sources: ActorGaugeSources) {
    const registers = [registry];
    this.#events = new Counter({
      name: "herald_events_emitted_total",
      help: "Public events stored (and so published), by type: status, join, update, leave",
      labelNames: ["type"],
      registers,
    });
    this.#facts = new Counter({
      name: "herald_facts_emitted_total",
      help: "Facts stored for status-projector",
      registers,
    });
    this.#deadLetters = new Counter({
      name: "herald_dead_letters_total",
      help: "Commands (or parts of command messages) set aside in the dead-letter stream",
      registers,
    });
    this.#group = new Histogram({
      name: "herald_group_commit_outputs",
      help: "Outputs per group commit of a partition",
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
      registers,
    });
    this.#step = new Histogram({
      name: "herald_step_seconds",
      help: "Time one command-stream message held a partition (its step)",
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    });
    this.#replayed = new Counter({
      name: "herald_replayed_messages_total",
      help: "Command-stream messages replayed on taking a partition (their outputs were stored by an earlier owner)",
      registers,
    });
    this.#ticks = new Counter({
      name: "herald_ticks_total",
      help: "Clock ticks appended for partitions whose timers were due",
      registers,
    });
    const sum = (
      read: (r: ReturnType<typeof sources.runners> extends Iterable<infer R> ? R : never) => number,
    ) => {
      let n = 0;
      for (const r of sources.runners()) n += read(r);
      return n;
    };
    const gauge = (name: string, help: string, read: () => number) => gaugeOf(registry, name, help, read);
    gauge("herald_partitions_owned", "Partitions whose lease this process holds", sources.owned);
    gauge(
      "herald_partitions_caught_up",
      "Owned partitions that have applied every command stored when taken",
      () => sum((r) => (r.caughtUp ? 1 : 0)),
    );
    new Gauge({
      name: "herald_consumer_pending_messages",
      help: "Command-stream messages not applied yet (consumer lag), over the owned partitions",
      labelNames: ["consumer"],
      registers,
      collect() {
        this.set(
          { consumer: "commands" },
          sum((r) => r.lag),
        );
      },
    });
    gauge("herald_partition_users", "Users held in memory by the owned partitions", () =>
      sum((r) => r.partition.users.size),
    );
    gauge("herald_partition_timers", "Timers pending in the owned partitions", () =>
      sum((r) => r.partition.timers.size),
    );
  }

  /** A group of outputs was stored. */
  stored(outputs: readonly Output[]): void {
    this.#group.observe(outputs.length);
    const n: Partial<Record<string, number>> = {};
    for (const o of outputs) if (o.kind !== undefined) n[o.kind] = (n[o.kind] ?? 0) + 1;
    for (const [kind, count = 0] of Object.entries(n)) {
      if (kind === "fact") this.#facts.inc(count);
      else if (kind === "dead_letter") {
        this.#deadLetters.inc(count);
        this.deadLetters += count;
      } else this.#events.inc({ type: kind }, count);
    }
  }

  /** One message was applied in `seconds`. */
  step(seconds: number, replaying: boolean): void {
    this.#step.observe(seconds);
    if (replaying) this.#replayed.inc();
  }

  ticked(): void {
    this.#ticks.inc();
  }
}
