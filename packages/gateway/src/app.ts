/**
 * The gateway: Herald's front door. Serves all of the API subjects (`subjects.api`) as the NATS micro service
 * `presence`; validates and stamps commands and appends them to the command stream in batches
 * per partition (it owns that stream); answers queries from an in-memory view of the KV
 * projections and history from the events stream.
 *
 * Wiring only: the pure parts are commands.ts (stamping), view.ts (queries), history.ts
 * (windows) and appender.ts (batching, over a publish function); the adapters are service.ts
 * (micro service), kv-feed.ts (KV watches), verdicts.ts (the owners' verdicts) and event-log.ts.
 */
import { hostname } from "node:os";
import { encodeCommandBatch, internalSubjects, SERVICE_NAME } from "@herald/protocol";
import type { App, HealthReason, WorkerContext } from "@herald/runtime";
import { nuid } from "@nats-io/nats-core";
import { Svcm } from "@nats-io/services";
import { BatchingAppender, type PublishBatch } from "./appender.js";
import { Dispatcher } from "./dispatcher.js";
import { JetStreamEventLog } from "./event-log.js";
import type { NodeInfo } from "./http/centrifugo.js";
import { KvFeed } from "./kv-feed.js";
import { GatewayMetrics } from "./metrics.js";
import { RateLimiter } from "./rate-limit.js";
import { ApiService } from "./service.js";
import { tuning } from "./tuning.js";
import { VerdictInbox } from "./verdicts.js";
import { PresenceView } from "./view.js";
import { HeartbeatBatcher } from "./ws/heartbeats.js";
import { Hub } from "./ws/hub.js";

/** Tuning; the defaults suit production, tests change them to reach edge cases. */
export interface GatewayOptions {
  /** Commands per command-stream message before it is sent at once (default 500). */
  readonly maxBatchCommands?: number;
  /** Batches waiting for JetStream beyond which commands are answered 503 (default 256). */
  readonly maxPendingBatches?: number;
  /** How long one publish attempt waits for its ack (default 2000 ms). */
  readonly publishTimeoutMs?: number;
  /** Publish attempts with the same message id on a timeout (default 3). */
  readonly publishAttempts?: number;
  /** How long a command waits for its owner's verdict before it is answered 503 (default 4 s). */
  readonly verdictTimeoutMs?: number;
  /** The clock (unix ms). */
  readonly now?: () => number;
}

export interface GatewayApp extends App {
  /** Resolves once the view has loaded the KV buckets; queries answer 503 until then. */
  ready(): Promise<void>;
  /** The one dispatcher of every transport. */
  readonly dispatcher: Dispatcher;
  /** Every running gateway (this one included), as Centrifugo's `info` lists nodes. */
  nodes(): Promise<NodeInfo[]>;
  health(): HealthReason;
  /** What the WebSocket edge's sessions share. */
  readonly sockets: { readonly hub: Hub; readonly heartbeats: HeartbeatBatcher; readonly rate: RateLimiter };
}

/** What a gateway says of itself in the service's stats, for the others' `nodes()`. */
interface NodeStats {
  readonly name: string;
  readonly num_clients: number;
  readonly num_users: number;
  readonly num_channels: number;
}

/** How long `nodes()` waits for the gateways' answers: at most, and after the last one. */
const NODES_MAX_WAIT_MS = 1000;
const NODES_STALL_MS = 100;

export async function start(ctx: WorkerContext, opts: GatewayOptions = {}): Promise<GatewayApp> {
  const { config, nc, jsm, log } = ctx;
  const js = jsm.jetstream();
  const timeout = opts.publishTimeoutMs ?? tuning.publishTimeoutMs;
  const retries = opts.publishAttempts ?? tuning.publishAttempts;
  // This process's name in reply tokens and command batch ids.
  const id = nuid.next();
  let metrics: GatewayMetrics | undefined;
  const publish: PublishBatch = async (partition, cmds, msgId) => {
    // A retry carries the same id, so the stream stores the batch once.
    await js.publish(internalSubjects.commands(partition), encodeCommandBatch(cmds), {
      msgID: msgId,
      timeout,
      retries,
    });
    metrics?.appended(cmds.length);
  };
  const appender = new BatchingAppender({
    partitions: config.partitions,
    publish,
    idPrefix: id,
    ...(opts.maxBatchCommands !== undefined ? { maxBatchCommands: opts.maxBatchCommands } : {}),
    ...(opts.maxPendingBatches !== undefined ? { maxPendingBatches: opts.maxPendingBatches } : {}),
  });
  const view = new PresenceView();
  const feed = await KvFeed.start(nc, view, log);
  const verdicts = new VerdictInbox(nc, id, opts.verdictTimeoutMs ?? tuning.verdictTimeoutMs, log);
  const gauges = new GatewayMetrics(ctx.metrics, {
    view,
    viewReady: () => feed.ready,
    pendingBatches: () => appender.stats().pending_batches,
    verdictsWaiting: () => verdicts.waiting,
    watchPending: () => feed.pending(),
  });
  metrics = gauges;
  const dispatcher = new Dispatcher({
    config,
    appender,
    view,
    viewReady: () => feed.ready,
    verdicts,
    events: new JetStreamEventLog(js, jsm, log),
    now: opts.now ?? Date.now,
    observe: (method, command, code, seconds) => gauges.served(method, command, code, seconds),
  });
  const node = (): NodeStats => {
    const t = view.totals();
    return {
      name: `${hostname()}:${process.pid}`,
      num_clients: t.conns,
      num_users: t.online + t.away,
      num_channels: t.channels,
    };
  };
  let api: ApiService;
  try {
    api = await ApiService.start(nc, dispatcher, log, () => ({
      ...appender.stats(),
      view: { ...feed.stats(), ...view.counts },
      verdicts_waiting: verdicts.waiting,
      node: node(),
    }));
  } catch (err) {
    verdicts.close();
    await feed.stop();
    throw err;
  }
  void feed.whenReady().then(() => log.info(view.counts, "gateway view loaded"));
  log.info({ partitions: config.partitions }, "gateway ready");
  const now = opts.now ?? Date.now;
  const sockets = {
    hub: new Hub({
      nc,
      view,
      now,
      maxMembers: config.channelEventsMaxMembers,
      intervalMs: config.channelIntervalMs,
      log: log.child({ module: "ws" }),
    }),
    heartbeats: new HeartbeatBatcher({
      dispatcher: () => dispatcher,
      ttlMs: config.ttlMs,
      tickMs: tuning.wsHeartbeatTickMs,
      followUpMs: tuning.wsFollowUpMs,
      now,
      log,
    }),
    rate: new RateLimiter(tuning.wsRequestsPerSecond),
  };
  const services = new Svcm(nc).client({
    strategy: "stall",
    maxWait: NODES_MAX_WAIT_MS,
    stall: NODES_STALL_MS,
  });
  const nodes = async (): Promise<NodeInfo[]> => {
    const found: NodeInfo[] = [];
    for await (const s of await services.stats(SERVICE_NAME)) {
      const data = s.endpoints?.[0]?.data as { node?: NodeStats } | undefined;
      if (data?.node === undefined) continue;
      found.push({
        uid: s.id,
        version: s.version,
        uptime: Math.max(0, Math.floor((Date.now() - Date.parse(s.started)) / 1000)),
        ...data.node,
      });
    }
    return found.sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  };
  return {
    dispatcher,
    sockets,
    nodes,
    health: () => (feed.ready ? undefined : "the view of the KV buckets is still loading"),
    ready: () => feed.whenReady(),
    stats: () => ({
      ...appender.stats(),
      view: { ...feed.stats(), ...view.counts },
      // What the view holds: users by the status others see, live conns, channels, members.
      totals: view.totals(),
      // WebSocket clients connected to this gateway (each keeps one conn live).
      websocket_clients: sockets.heartbeats.size,
      websocket_subscriptions: sockets.hub.stats,
    }),
    async close() {
      // No new requests; those being served finish (their appends are flushed below).
      await api.stop();
      sockets.heartbeats.close();
      sockets.hub.close();
      await appender.close();
      verdicts.close();
      await feed.stop();
      log.info(appender.stats(), "gateway stopped");
    },
  };
}
