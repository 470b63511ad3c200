/**
 * A process's Prometheus registry (CONTRACT.md §9): names prefixed `herald_`, base units,
 * counters ending `_total`, no user or channel ids as labels. Every process has one, with the
 * default Node.js process and event-loop metrics and the label `component`; each component
 * adds its own metrics to it (its metrics.ts). Counters live as long as the process, whatever
 * partitions come and go, so they only ever grow while it runs.
 */
import type { Component } from "@herald/protocol";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";

export type { Registry } from "prom-client";

/** Metric names start with this. */
export const METRIC_PREFIX = "herald_";

export function createRegistry(component: Component): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}

/** A gauge read from `read()` whenever the registry is scraped. */
export function gaugeOf(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** A counter that reports a count kept elsewhere, which only grows while the process runs. */
export function counterOf(registry: Registry, name: string, help: string, read: () => number): void {
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
