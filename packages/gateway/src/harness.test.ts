/**
 * Integration-test harness (not a test file itself): a real nats-server, every resource
 * ensured as the three workers would, one or more gateways on their own connections, and a
 * client connection that drives them only through the public subjects.
 */
import {
  COMPONENTS,
  type Command,
  type Config,
  decodeCommandBatch,
  headers as heraldHeaders,
  internalSubjects,
  json,
  loadConfig,
  SERVICE_NAME,
  streams,
  subjects,
} from "@herald/protocol";
import { createRegistry, ensureResources } from "@herald/runtime";
import { failTest, NatsServer, type NatsServerOptions, waitFor } from "@herald/testkit";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { type ServiceClient, type ServiceStats, Svcm } from "@nats-io/services";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { type GatewayApp, type GatewayOptions, start } from "./index.js";

export const log = pino({ level: "silent" });

export interface Reply {
  readonly body: { result?: Record<string, unknown>; error?: { code: number; message: string } };
  readonly headers: MsgHdrs | undefined;
}

export interface Harness extends AsyncDisposable {
  readonly server: NatsServer;
  readonly config: Config;
  /** The client: requests, KV writes, stream reads. */
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly gateways: GatewayApp[];
  /** Starts another gateway on its own connection. */
  addGateway(opts?: GatewayOptions): Promise<GatewayApp>;
  /** `nc.request(subjects.method(method), json)`. */
  call(method: string, params: unknown): Promise<Reply>;
  /** The result of a call that must succeed. */
  result<T = Record<string, unknown>>(method: string, params: unknown): Promise<T>;
  /** Waits until queries are answered (the view is loaded). */
  viewLoaded(): Promise<void>;
  /** A micro-service client that waits for one answer per running gateway. */
  services(): ServiceClient;
  /** `$SRV.STATS.presence` of every running gateway. */
  stats(): Promise<ServiceStats[]>;
}

export async function startHarness(
  opts: {
    env?: Record<string, string>;
    gateway?: GatewayOptions;
    gateways?: number;
    /** Options of the nats-server (e.g. `extraConfig`). */
    server?: NatsServerOptions;
  } = {},
): Promise<Harness> {
  const server = await NatsServer.start(opts.server);
  const conns: NatsConnection[] = [];
  const gateways: GatewayApp[] = [];
  const dispose = async () => {
    for (const app of gateways.splice(0)) await app.close();
    for (const c of conns.splice(0)) await c.close();
    await server[Symbol.asyncDispose]();
  };
  try {
    const config = loadConfig({ NATS_URL: server.url, ...opts.env });
    const nc = await connect({ servers: server.url });
    conns.push(nc);
    const jsm = await jetstreamManager(nc);
    for (const component of COMPONENTS) await ensureResources(nc, jsm, config, component, log);

    const addGateway = async (gatewayOpts: GatewayOptions = opts.gateway ?? {}) => {
      const gnc = await connect({ servers: server.url, name: "herald-gateway" });
      conns.push(gnc);
      const jsm = await jetstreamManager(gnc);
      const app = await start(
        { config, log, nc: gnc, jsm, metrics: createRegistry("gateway"), fatal: failTest },
        gatewayOpts,
      );
      gateways.push(app);
      return app;
    };
    for (let i = 0; i < (opts.gateways ?? 1); i++) await addGateway();

    const call = async (method: string, params: unknown): Promise<Reply> => {
      const data = params instanceof Uint8Array ? params : json.encode(params);
      const msg = await nc.request(subjects.method(method), data, { timeout: 10_000 });
      return { body: msg.json(), headers: msg.headers };
    };
    const result = async <T>(method: string, params: unknown): Promise<T> => {
      const { body } = await call(method, params);
      if (body.result === undefined) throw new Error(`${method} failed: ${JSON.stringify(body.error)}`);
      return body.result as T;
    };
    const viewLoaded = async () => {
      await Promise.all(gateways.map((g) => g.ready()));
      await waitFor(
        async () => (await call("presence_stats", { channel: "probe" })).body.error?.code !== 503,
        { what: "the gateway view to load" },
      );
    };
    const services = () =>
      new Svcm(nc).client({ strategy: "count", maxMessages: gateways.length, maxWait: 5_000 });
    const stats = async () => {
      const all: ServiceStats[] = [];
      for await (const s of await services().stats(SERVICE_NAME)) all.push(s);
      return all;
    };
    return {
      server,
      config,
      nc,
      jsm,
      gateways,
      addGateway,
      call,
      result,
      viewLoaded,
      services,
      stats,
      [Symbol.asyncDispose]: dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}

export interface StoredBatch {
  readonly partition: number;
  readonly msgId: string | undefined;
  readonly cmds: Command[];
}

/** Every batch in the command stream, in stream order, with its partition and message id. */
export async function readCommandBatches(h: Harness): Promise<StoredBatch[]> {
  const total = (await h.jsm.streams.info(streams.commands)).state.messages;
  const batches: StoredBatch[] = [];
  if (total === 0) return batches;
  const partitionOfSubject = new Map(
    Array.from({ length: h.config.partitions }, (_, p) => [internalSubjects.commands(p), p] as const),
  );
  const consumer = await h.jsm.jetstream().consumers.get(streams.commands, {
    filter_subjects: internalSubjects.allCommands,
  });
  try {
    const messages = await consumer.fetch({ max_messages: total, expires: 5_000 });
    for await (const m of messages) {
      const decoded = decodeCommandBatch(m.data);
      if (decoded.rejected.length > 0) {
        throw new Error(`stored commands failed their schema: ${JSON.stringify(decoded.rejected)}`);
      }
      batches.push({
        partition: partitionOfSubject.get(m.subject) ?? -1,
        msgId: m.headers?.get(heraldHeaders.msgId),
        cmds: decoded.cmds,
      });
      if (m.info.pending === 0) break;
    }
  } finally {
    await consumer.delete().catch(() => {});
  }
  return batches;
}

/** All stored commands, in stream order. */
export async function readCommands(h: Harness): Promise<Command[]> {
  return (await readCommandBatches(h)).flatMap((b) => b.cmds);
}
