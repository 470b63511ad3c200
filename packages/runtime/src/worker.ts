/**
 * Process wiring shared by the three workers: config from the environment (a bad value stops
 * the process with a message naming the variable), logger, metrics registry, the HTTP listener
 * (`/health`, `/metrics` and the component's routes; opened before NATS is reached, so a port
 * in use stops the process at once and `/health` answers 503 while it connects), NATS
 * connection, resources, and a clean stop on SIGINT/SIGTERM (HTTP stops taking requests, the
 * app closes, the connection drains, exit 0 within 5 s).
 */

import type { ListenAddress } from "@herald/protocol";
import {
  type Component,
  type Config,
  ConfigError,
  type Env,
  internalSubjects,
  loadConfig,
} from "@herald/protocol";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import { ResourceConflictError } from "./errors.js";
import { Health, type HealthReason } from "./health.js";
import { type FastifyInstance, type HttpServer, startHttpServer } from "./http-server.js";
import { createLogger } from "./logger.js";
import { createRegistry, type Registry } from "./metrics.js";
import { connectNats } from "./nats.js";
import { ensureResources } from "./resources.js";
import { retry } from "./retry.js";

/** What a worker's `start` gets: everything it needs, created once. */
export interface WorkerContext {
  readonly config: Config;
  readonly log: Logger;
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  /** The process's Prometheus registry: the app adds its metrics here. */
  readonly metrics: Registry;
  /**
   * A loop the worker cannot do without stopped: the process exits non-zero, so that its
   * supervisor starts it again, rather than idle while it looks alive.
   */
  fatal(err: Error): void;
}

/** A started worker app; `close` stops taking work and finishes what it has. */
export interface App {
  close(): Promise<void>;
  /** How long `close` may take before the process is forced out (default `STOP_TIMEOUT_MS`). */
  readonly stopTimeoutMs?: number;
  /** Counters for operators and benchmarks (answered on `herald.admin.stats.<component>`). */
  stats?(): Record<string, unknown>;
  /** Why the app cannot serve now (`/health` answers 503 with it), or undefined when it can. */
  health?(): HealthReason;
}

/** Adds a component's HTTP routes; `app` is undefined until the app has started. */
export type HttpRoutes<A extends App> = (
  http: FastifyInstance,
  app: () => A | undefined,
  ctx: { readonly config: Config; readonly log: Logger; readonly metrics: Registry },
) => void;

export interface RunOptions<A extends App> {
  /** The component's routes on its HTTP listener (the gateway's API). */
  readonly routes?: HttpRoutes<A>;
}

/**
 * Where a component listens: the gateway on HTTP_ADDR (refused on a non-loopback address
 * without HTTP_API_KEY: the API would be open to the network), the others on METRICS_ADDR.
 */
export function listenAddressOf(
  component: Component,
  config: Config,
): { addr: ListenAddress; variable: string } | undefined {
  if (component !== "gateway") {
    return config.metricsAddr === undefined
      ? undefined
      : { addr: config.metricsAddr, variable: "METRICS_ADDR" };
  }
  if (config.httpAddr === undefined) return undefined;
  if (!config.httpAddr.loopback && config.httpApiKey === undefined) {
    throw new ConfigError([
      {
        variable: "HTTP_API_KEY",
        message: `must be set when HTTP_ADDR (${config.httpAddr.host}:${config.httpAddr.port}) is not a loopback address: the API would be open to the network`,
      },
    ]);
  }
  return { addr: config.httpAddr, variable: "HTTP_ADDR" };
}

/** Answers stats requests with the app's counters, the process's memory and uptime. */
function serveStats(nc: NatsConnection, component: Component, app: App, log: Logger): void {
  nc.subscribe(internalSubjects.stats(component), {
    callback: (err, m) => {
      if (err !== null) return;
      // Any body but `{"gc": true}` asks for the stats as they are: every request gets them.
      let wantGc = false;
      try {
        const body: unknown = m.data.length > 0 ? JSON.parse(m.string()) : {};
        wantGc = typeof body === "object" && body !== null && (body as { gc?: unknown }).gc === true;
      } catch {
        log.debug("stats request with a body that is not JSON; answering without a GC");
      }
      try {
        const gc = (globalThis as { gc?: () => void }).gc;
        if (wantGc && gc !== undefined) gc();
        m.respond(
          JSON.stringify({
            component,
            pid: process.pid,
            uptime_ms: Math.round(process.uptime() * 1000),
            memory: process.memoryUsage(),
            gc: wantGc && gc !== undefined,
            ...app.stats?.(),
          }),
        );
      } catch (e) {
        log.warn({ err: e }, "answering a stats request failed");
      }
    },
  });
}

export type StartApp = (ctx: WorkerContext) => Promise<App>;

/** How long a stopping worker may take before it is forced out. */
export const STOP_TIMEOUT_MS = 5000;
/** Exit code of a worker stopped by bad configuration. */
export const EXIT_CONFIG = 78;
/** Exit code of a worker whose work stopped (a loop it cannot do without failed). */
export const EXIT_FATAL = 70;

/** A started worker: how to stop it, and how long that may take. */
export interface StartedWorker {
  stop(): Promise<void>;
  readonly stopTimeoutMs: number;
}

/** Connects, ensures the component's resources and starts its app. */
export async function startWorker<A extends App>(
  component: Component,
  config: Config,
  log: Logger,
  start: (ctx: WorkerContext) => Promise<A>,
  fatal: (err: Error) => void,
  io: { metrics: Registry; health: Health; started?: (app: A) => void } = {
    metrics: createRegistry(component),
    health: new Health(),
  },
): Promise<StartedWorker> {
  const nc = await connectNats(config.nats, `herald-${component}`, log);
  io.health.watch(nc);
  try {
    const jsm = await jetstreamManager(nc);
    // A cluster electing leaders or a busy server can time a request out: try again a few
    // times. A resource with settings Herald cannot use is final.
    await retry(() => ensureResources(nc, jsm, config, component, log), {
      what: "making sure of the streams and buckets",
      attempts: 5,
      minDelayMs: 1000,
      maxDelayMs: 4000,
      retryIf: (err) => !(err instanceof ResourceConflictError),
      log,
    });
    const app = await start({ config, log, nc, jsm, metrics: io.metrics, fatal });
    serveStats(nc, component, app, log);
    io.health.started(() => app.health?.());
    io.started?.(app);
    const stop = async () => {
      try {
        await app.close();
      } finally {
        // Drain delivers what is in flight; without a server there is nothing to drain.
        await nc.drain().catch(async (err: unknown) => {
          log.warn({ err }, "could not drain the NATS connection; closing it");
          await nc.close();
        });
      }
    };
    return { stop, stopTimeoutMs: app.stopTimeoutMs ?? STOP_TIMEOUT_MS };
  } catch (err) {
    await nc.close();
    throw err;
  }
}

/** The body of a worker's main.ts. */
export async function runWorker<A extends App>(
  component: Component,
  start: (ctx: WorkerContext) => Promise<A>,
  opts: RunOptions<A> = {},
  env: Env = process.env,
): Promise<void> {
  let config: Config;
  let listen: ReturnType<typeof listenAddressOf>;
  try {
    config = loadConfig(env);
    listen = listenAddressOf(component, config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`herald ${component}: ${err.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
  const log = createLogger({ level: config.logLevel, format: config.logFormat, component });
  const metrics = createRegistry(component);
  const health = new Health();
  let app: A | undefined;
  let http: HttpServer | undefined;
  if (listen !== undefined) {
    try {
      http = await startHttpServer({
        ...listen,
        health,
        registry: metrics,
        log,
        ...(opts.routes !== undefined
          ? { routes: (f) => opts.routes?.(f, () => app, { config, log, metrics }) }
          : {}),
      });
    } catch (err) {
      process.stderr.write(`herald ${component}: ${(err as Error).message}\n`);
      process.exit(err instanceof ConfigError ? EXIT_CONFIG : 1);
    }
  }
  let worker: StartedWorker | undefined;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    const timeoutMs = worker?.stopTimeoutMs ?? STOP_TIMEOUT_MS;
    setTimeout(() => {
      log.error({ timeoutMs }, "did not stop in time; exiting");
      process.exit(1);
    }, timeoutMs).unref();
    health.stopping();
    // A signal during start finds nothing to stop yet: the process just exits.
    (http?.close() ?? Promise.resolve())
      .then(() => worker?.stop())
      .then(() => {
        log.info("stopped");
        log.flush();
        process.exit(0);
      })
      .catch((err: unknown) => {
        log.error({ err }, "error while stopping");
        process.exit(1);
      });
  };
  process.once("SIGINT", () => shutdown("SIGINT"));
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  try {
    worker = await startWorker(
      component,
      config,
      log,
      start,
      (err) => {
        log.fatal({ err }, "a loop the worker cannot do without stopped; exiting");
        log.flush();
        process.exit(EXIT_FATAL);
      },
      { metrics, health, started: (a) => (app = a) },
    );
  } catch (err) {
    log.fatal({ err }, "failed to start");
    log.flush();
    process.exit(1);
  }
  log.info("started");
}
