/**
 * status-projector's metrics (README "Metrics"), read from the projector's own counters when
 * scraped; the projector lives as long as the process, so they only grow while it runs.
 */
import type { Registry } from "@herald/runtime";
import { Counter, Gauge } from "prom-client";
import type { ProjectorStats } from "./projector.js";

/** A counter that reports a monotonic count kept elsewhere. */
function countOf(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

export function projectorMetrics(registry: Registry, stats: () => Readonly<ProjectorStats>): void {
  countOf(
    registry,
    "herald_facts_projected_total",
    "Facts read and acknowledged (dead-lettered ones included)",
    () => stats().facts,
  );
  countOf(
    registry,
    "herald_projection_batches_total",
    "Batches of facts applied to the KV projections",
    () => stats().batches,
  );
  countOf(registry, "herald_kv_writes_total", "KV values written to the projections", () => stats().applied);
  countOf(
    registry,
    "herald_kv_writes_skipped_total",
    "KV writes skipped because the key already held the same or a later fact",
    () => stats().skipped,
  );
  countOf(
    registry,
    "herald_dead_letters_total",
    "Facts set aside in the dead-letter stream",
    () => stats().deadLettered,
  );
  new Gauge({
    name: "herald_consumer_pending_messages",
    help: "Facts stored in the events stream and not projected yet (consumer lag)",
    labelNames: ["consumer"],
    registers: [registry],
    collect() {
      this.set({ consumer: "facts" }, stats().pending);
    },
  });
}
