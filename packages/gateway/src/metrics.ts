/**
 * The gateway's metrics (README "Metrics"): requests served by the dispatcher, whatever their
 * transport (NATS, HTTP, batch), the view's totals, the appender's batches and the WebSocket
 * clients. Method labels are the contract's method names only (anything else is `unknown`).
 */
import { isMethod } from "@herald/protocol";
import { gaugeOf, type Registry } from "@herald/runtime";
import { Counter, Gauge, Histogram } from "prom-client";
import type { PresenceView } from "./view.js";

const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

export interface GatewayGaugeSources {
  readonly view: PresenceView;
  /** Whether the view holds what the buckets held at start. */
  readonly viewReady: () => boolean;
  /** Command batches waiting for JetStream. */
  readonly pendingBatches: () => number;
  /** Commands waiting for their owner's verdict. */
  readonly verdictsWaiting: () => number;
  /** Per KV bucket, the values its watch has not delivered yet. */
  readonly watchPending: () => ReadonlyMap<string, number>;
}

export class GatewayMetrics {
  readonly #accepted: Counter<"method">;
  readonly #rejected: Counter<"method" | "code">;
  readonly #queries: Counter<"method" | "code">;
  readonly #queryTime: Histogram<"method">;
  readonly #commandTime: Histogram<"method">;
  readonly #batch: Histogram;

  constructor(registry: Registry, sources: GatewayGaugeSources) {
    const registers = [registry];
    this.#accepted = new Counter({
      name: "herald_commands_accepted_total",
      help: "Commands acknowledged (durably appended), by method; a batch counts once",
      labelNames: ["method"],
      registers,
    });
    this.#rejected = new Counter({
      name: "herald_commands_rejected_total",
      help: "Commands refused, by method and error code (CONTRACT.md §4)",
      labelNames: ["method", "code"],
      registers,
    });
    this.#queries = new Counter({
      name: "herald_queries_total",
      help: "Queries answered, by method and code (200 for a result)",
      labelNames: ["method", "code"],
      registers,
    });
    this.#queryTime = new Histogram({
      name: "herald_query_duration_seconds",
      help: "Time to answer a query in the gateway, by method",
      labelNames: ["method"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#commandTime = new Histogram({
      name: "herald_command_duration_seconds",
      help: "Time to acknowledge or refuse a command in the gateway (append, and the owner's verdict where one is awaited), by method",
      labelNames: ["method"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#batch = new Histogram({
      name: "herald_append_batch_commands",
      help: "Commands per message appended to the command stream (the gateway's group commit)",
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers,
    });
    const gauge = (name: string, help: string, read: () => number) => gaugeOf(registry, name, help, read);
    new Gauge({
      name: "herald_users",
      help: "Users known to the gateway's view, by the status others see (offline: with stored times)",
      labelNames: ["status"],
      registers,
      collect() {
        const t = sources.view.totals();
        for (const status of ["online", "away", "offline"] as const) this.set({ status }, t[status]);
      },
    });
    gauge("herald_conns", "Live conns, as the gateway's view has them", () => sources.view.totals().conns);
    gauge("herald_channels", "Channels with at least one member", () => sources.view.totals().channels);
    gauge(
      "herald_members",
      "Channel memberships (member = one conn in one channel)",
      () => sources.view.totals().members,
    );
    new Gauge({
      name: "herald_consumer_pending_messages",
      help: "Values of each KV bucket stored after the last one the view applied (the watch's lag)",
      labelNames: ["consumer"],
      registers,
      collect() {
        for (const [bucket, n] of sources.watchPending()) this.set({ consumer: bucket }, n);
      },
    });
    gauge("herald_view_ready", "1 once the gateway's view has loaded the KV buckets", () =>
      sources.viewReady() ? 1 : 0,
    );
    gauge("herald_append_pending_batches", "Command batches waiting for JetStream", sources.pendingBatches);
    gauge("herald_verdicts_waiting", "Commands waiting for their owner's verdict", sources.verdictsWaiting);
  }

  /** A request the dispatcher served: `code` undefined for a result. */
  served(method: string, command: boolean, code: number | undefined, seconds: number): void {
    const name = isMethod(method) ? method : "unknown";
    if (command || !isMethod(method)) {
      if (code === undefined) this.#accepted.inc({ method: name });
      else this.#rejected.inc({ method: name, code: String(code) });
      if (isMethod(method)) this.#commandTime.observe({ method: name }, seconds);
      return;
    }
    this.#queries.inc({ method: name, code: String(code ?? 200) });
    this.#queryTime.observe({ method: name }, seconds);
  }

  /** A message of `commands` commands was appended. */
  appended(commands: number): void {
    this.#batch.observe(commands);
  }
}
