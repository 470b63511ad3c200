/**
 * A process's HTTP listener (fastify): `GET /health` and `GET /metrics` (CONTRACT.md §9) on
 * every process that has an address, plus whatever routes its component adds (the gateway's API,
 * §7). Every request is counted and timed by route pattern (never by the ids in a path). A route
 * that does not exist, and any request the framework refuses, is answered in the API's error shape
 * with a 4xx status, never 500.
 */
import { ConfigError, ErrorCode, type ListenAddress } from "@herald/protocol";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from "fastify";
import type { Logger } from "pino";
import { Counter, Histogram, type Registry } from "prom-client";
import type { Health } from "./health.js";

export type { FastifyInstance } from "fastify";

/** Largest request body read (CONTRACT.md §7: over 1 MiB is 413). */
export const HTTP_BODY_LIMIT_BYTES = 1024 * 1024;
/**
 * Bodies up to this size are read whole, so that one over {@link HTTP_BODY_LIMIT_BYTES} is
 * answered 413 on a connection that stays open (the routes check the 1 MiB themselves); only a
 * larger one is cut off while it is still being sent.
 */
export const HTTP_READ_LIMIT_BYTES = 8 * 1024 * 1024;

export interface HttpServerOptions {
  readonly addr: ListenAddress;
  /** The variable `addr` came from, named in an error when it cannot be listened on. */
  readonly variable: string;
  readonly health: Health;
  readonly registry: Registry;
  readonly log: Logger;
  /** Adds the component's own routes (before the listener opens). */
  readonly routes?: (app: FastifyInstance) => void;
}

export interface HttpServer {
  /** `http://host:port` as bound (the real port when `addr` asked for port 0). */
  readonly url: string;
  /** Stops taking connections and waits for the requests being served. */
  close(): Promise<void>;
}

/** The body of an error in the API's shape (CONTRACT.md §4). */
export function errorBody(code: number, message: string): { error: { code: number; message: string } } {
  return { error: { code, message } };
}

function httpMetrics(registry: Registry) {
  return {
    requests: new Counter({
      name: "herald_http_requests_total",
      help: "HTTP requests answered, by route pattern, HTTP method and status",
      labelNames: ["route", "method", "status"] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: "herald_http_request_duration_seconds",
      help: "Time from receiving an HTTP request to sending its answer, by route pattern",
      labelNames: ["route"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const { addr, health, registry, log } = opts;
  const app = Fastify({
    logger: false,
    bodyLimit: HTTP_READ_LIMIT_BYTES,
    return503OnClosing: true,
    // Method names are short; a long one is an unknown method (404 from the route), not a 414.
    maxParamLength: 4096,
    // A path the router cannot read (bad percent-encoding) is answered in the API's shape too.
    frameworkErrors: (err, _req, reply) => {
      // The reply's generic types here are those of no route in particular.
      void (reply as unknown as FastifyReply)
        .code(400)
        .send(errorBody(400, `the request could not be read: ${err.message}`));
    },
  });
  const metrics = httpMetrics(registry);
  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    metrics.requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    metrics.duration.observe({ route }, reply.elapsedTime / 1000);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(404)
      .send(errorBody(ErrorCode.UnknownMethod, `no route ${req.method} ${req.url.split("?")[0]}`));
  });
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status =
      err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) log.error({ err, url: req.url }, "HTTP request failed");
    void reply.code(status).send(errorBody(status, status === 500 ? "internal error" : err.message));
  });
  app.get("/health", async (_req, reply) => {
    const reason = health.reason();
    if (reason === undefined) return {};
    return reply.code(503).send(errorBody(ErrorCode.NotReady, reason));
  });
  app.get("/metrics", async (_req, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
  opts.routes?.(app);
  try {
    await app.listen({ host: addr.host, port: addr.port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "EADDRINUSE"
        ? "is in use by another process"
        : code === "EACCES"
          ? "needs privileges this process lacks"
          : `cannot be listened on (${(err as Error).message})`;
    await app.close();
    throw new ConfigError([{ variable: opts.variable, message: `${addr.host}:${addr.port} ${why}` }]);
  }
  const bound = app.server.address();
  const port = typeof bound === "object" && bound !== null ? bound.port : addr.port;
  const host = addr.host.includes(":") ? `[${addr.host}]` : addr.host;
  const url = `http://${host}:${port}`;
  log.info({ url }, "HTTP listening");
  return { url, close: () => app.close() };
}
