/**
 * What the dashboard reads from the gateway's own Prometheus registry (metrics.ts, ws/edge.ts):
 * the view's totals, its WebSocket clients and the query-latency histogram.
 */
import type { Totals } from "@herald/dashboard";
import type { Registry } from "@herald/runtime";
import type { Buckets } from "./histogram.js";

interface Value {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number | undefined>>;
  readonly metricName?: string;
}

export interface RegistrySample {
  readonly totals: Totals;
  readonly viewReady: boolean;
  /** `herald_query_duration_seconds` buckets, over every method. */
  readonly queryBuckets: Buckets;
}

async function valuesOf(registry: Registry, name: string): Promise<readonly Value[]> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return [];
  return (await metric.get()).values as readonly Value[];
}

async function single(registry: Registry, name: string): Promise<number> {
  return (await valuesOf(registry, name))[0]?.value ?? 0;
}

function bucketsOf(values: readonly Value[], name: string): Map<number, number> {
  const buckets = new Map<number, number>();
  for (const v of values) {
    if (v.metricName !== `${name}_bucket`) continue;
    const le = v.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(v.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + v.value);
  }
  return buckets;
}

const QUERY_TIME = "herald_query_duration_seconds";

export async function readRegistry(registry: Registry): Promise<RegistrySample> {
  const users = { online: 0, away: 0, offline: 0 };
  for (const v of await valuesOf(registry, "herald_users")) {
    const status = v.labels.status;
    if (status === "online" || status === "away" || status === "offline") users[status] = v.value;
  }
  return {
    totals: {
      ...users,
      conns: await single(registry, "herald_conns"),
      channels: await single(registry, "herald_channels"),
      members: await single(registry, "herald_members"),
      ws_clients: await single(registry, "herald_websocket_connections"),
    },
    viewReady: (await single(registry, "herald_view_ready")) === 1,
    queryBuckets: bucketsOf(await valuesOf(registry, QUERY_TIME), QUERY_TIME),
  };
}
