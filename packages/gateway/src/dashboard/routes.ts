/**
 * `GET /dashboard` (CONTRACT.md §9, README "Dashboard"): the operators' live page. The page and
 * its files are static and open; its data is under `/dashboard/api/` and, with HTTP_API_KEY set,
 * needs the key (401 without it):
 * - `stream`: server-sent events: `hello` (the charts' recent points and the latest tick), a
 *   `tick` a second, and `events` batches of the live tail through `?user=&channel=&type=`;
 * - `overview`: the latest tick; `channel?channel=`: members and recent events;
 *   `user?user=[&since_ms=]`: status, conns, channels and status history.
 * `GET /dashboard/session` tells the page whether it needs a key and whether it has the right one.
 */
import { paths, streamEvents, type TailFilter } from "@herald/dashboard";
import { type Config, ErrorCode, InvalidParamsError, NotReadyError, toHeraldError } from "@herald/protocol";
import { errorBody, type FastifyInstance, type Logger, type Registry } from "@herald/runtime";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { GatewayApp } from "../app.js";
import type { Dispatcher } from "../dispatcher.js";
import { Access } from "./access.js";
import { type Asset, loadAssets } from "./assets.js";
import { channelView, USER_HISTORY_WINDOW_MS, userView } from "./details.js";
import { Monitor } from "./monitor.js";
import { EventStream } from "./sse.js";

export interface DashboardDeps {
  /** The gateway, once started (data calls answer 503 before). */
  readonly app: () => GatewayApp | undefined;
  readonly config: Config;
  readonly log: Logger;
  /** The gateway's registry: the view's totals and the query latency are read from it. */
  readonly metrics: Registry;
}

const TAIL_TYPES: ReadonlySet<string> = new Set(["status", "join", "update", "leave"]);

/** The page may run only its own scripts and talk only to this gateway. */
const PAGE_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

type Query = Record<string, string | string[] | undefined>;

/** A query-string parameter: absent, or given once (twice is refused). */
function param(query: Query, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) throw new InvalidParamsError(`${name} must be given once`);
  return value === undefined || value === "" ? undefined : value;
}

function required(query: Query, name: string): string {
  const value = param(query, name);
  if (value === undefined) throw new InvalidParamsError(`${name} is required`);
  return value;
}

function tailFilter(query: Query): TailFilter {
  const user = param(query, "user");
  const channel = param(query, "channel");
  const type = param(query, "type");
  if (type !== undefined && !TAIL_TYPES.has(type)) {
    throw new InvalidParamsError("type must be one of status, join, update, leave");
  }
  return {
    ...(user !== undefined ? { user } : {}),
    ...(channel !== undefined ? { channel } : {}),
    ...(type !== undefined ? { type: type as TailFilter["type"] } : {}),
  };
}

function sendAsset(req: FastifyRequest, reply: FastifyReply, a: Asset, headers: Record<string, string> = {}) {
  void reply.headers({
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    ...headers,
    etag: a.etag,
  });
  if (req.headers["if-none-match"] === a.etag) return reply.code(304).send();
  return reply.type(a.type).send(a.body);
}

export function registerDashboard(http: FastifyInstance, deps: DashboardDeps): void {
  const { log } = deps;
  const assets = loadAssets();
  if (assets.page === undefined)
    log.warn("the dashboard page is not built (pnpm build): /dashboard answers 503");
  const access = new Access(deps.config.httpApiKey);
  const monitor = new Monitor({
    config: deps.config,
    registry: deps.metrics,
    log: log.child({ module: "dashboard" }),
  });
  const streams = new Set<EventStream>();
  // Open streams would keep the listener from closing: end them first.
  http.addHook("preClose", async () => {
    for (const s of streams) s.end();
    await monitor.close();
  });

  http.get(paths.page, async (req, reply) => {
    if (assets.page === undefined) {
      return reply.code(503).send(errorBody(503, "the dashboard is not built: pnpm build"));
    }
    return sendAsset(req, reply, assets.page, PAGE_HEADERS);
  });
  http.get(`${paths.page}/`, async (_req, reply) => reply.redirect(paths.page));
  http.get<{ Params: { file: string } }>(`${paths.assets}/:file`, async (req, reply) => {
    const a = assets.files.get(req.params.file);
    if (a === undefined) return reply.code(404).send(errorBody(404, `no file ${req.params.file}`));
    return sendAsset(req, reply, a);
  });
  http.get(paths.session, async (req, reply) =>
    reply.header("cache-control", "no-store").send(access.session(req.headers)),
  );

  const dispatcher = (): Dispatcher => {
    const d = deps.app()?.dispatcher;
    if (d === undefined) throw new NotReadyError("the gateway is starting; retry shortly");
    return d;
  };

  void http.register(
    async (api) => {
      api.addHook("onRequest", async (req, reply) => {
        if (access.allows(req.headers)) return;
        return reply
          .code(401)
          .send(
            errorBody(401, "missing or wrong API key: send X-API-Key: <key> or Authorization: apikey <key>"),
          );
      });
      api.setErrorHandler((err, req, reply) => {
        const e = toHeraldError(err);
        if (e.code === ErrorCode.Internal) log.error({ err, url: req.url }, "dashboard request failed");
        return reply.code(e.code).header("cache-control", "no-store").send(e.toJSON());
      });

      api.get(paths.stream.slice(paths.api.length), async (req, reply) => {
        const filter = tailFilter(req.query as Query);
        reply.hijack();
        const stream = new EventStream(reply.raw);
        streams.add(stream);
        const { hello, detach } = monitor.attach(stream, filter);
        stream.send(streamEvents.hello, hello);
        req.raw.socket.setNoDelay(true);
        reply.raw.once("close", () => {
          detach();
          streams.delete(stream);
        });
      });
      api.get(paths.overview.slice(paths.api.length), async (_req, reply) => {
        const tick = await monitor.latest();
        if (tick === undefined) throw new NotReadyError("no sample yet; retry shortly");
        return reply.header("cache-control", "no-store").send(tick);
      });
      api.get(paths.channel.slice(paths.api.length), async (req, reply) => {
        const view = await channelView(dispatcher(), required(req.query as Query, "channel"), Date.now());
        return reply.header("cache-control", "no-store").send(view);
      });
      api.get(paths.user.slice(paths.api.length), async (req, reply) => {
        const query = req.query as Query;
        const user = required(query, "user");
        const since = param(query, "since_ms");
        const sinceMs = since === undefined ? Date.now() - USER_HISTORY_WINDOW_MS : Number(since);
        if (!Number.isSafeInteger(sinceMs) || sinceMs < 0) {
          throw new InvalidParamsError("since_ms must be unix milliseconds");
        }
        const d = dispatcher();
        const view = await userView(d, await monitor.link(), user, sinceMs);
        return reply.header("cache-control", "no-store").send(view);
      });
    },
    { prefix: paths.api },
  );
}
