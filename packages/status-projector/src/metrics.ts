/**
 * status-projector's metrics (README "Metrics"), read from the projector's own counters when
 * scraped; the projector lives as long as the process, so they only grow while it runs.
 */
import { counterOf, type Registry } from "@herald/runtime";
import { Gauge } from "prom-client";
import type { ProjectorStats } from "./projector.js";

export function projectorMetrics(registry: Registry, stats: () => Readonly<ProjectorStats>): void {
  counterOf(
    registry,
    "herald_facts_projected_total",
    "Facts read and acknowledged (dead-lettered ones included)",
    () => stats().facts,
  );
  counterOf(
    registry,
    "herald_projection_batches_total",
    "Batches of facts applied to the KV projections",
    () => stats().batches,
  );
  counterOf(
    registry,
    "herald_kv_writes_total",
    "KV values written to the projections",
    () => stats().applied,
  );
  counterOf(
    registry,
    "herald_kv_writes_skipped_total",
    "KV writes skipped because the key already held the same or a later fact",
    () => stats().skipped,
  );
  counterOf(
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
