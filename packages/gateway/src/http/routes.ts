/**
 * The gateway's HTTP API (CONTRACT.md §7) on its listener: `POST /api/<method>` and
 * `POST /api/batch`, and the Centrifugo layer under `/centrifugo/api`. Adapters only: every
 * method goes to the one Dispatcher, as over NATS; what differs is framing (bodies, headers,
 * error modes, Centrifugo's codes). `/health` and `/metrics` are the listener's own (runtime).
 */
import {
  decodeBody,
  ErrorCode,
  echo,
  HeraldError,
  InvalidParamsError,
  limits,
  type Member,
  NotReadyError,
  TooLargeError,
  toHeraldError,
  UnknownMethodError,
} from "@herald/protocol";
import { errorBody, type FastifyInstance, type Logger } from "@herald/runtime";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { Caller, Dispatcher } from "../dispatcher.js";
import { ApiKey, presentedKey } from "./api-key.js";
import { parseBatch, runBatch } from "./batch.js";
import {
  type CentrifugoCode,
  centrifugoCode,
  NOT_SERVED,
  type NodeInfo,
  PASSED_THROUGH,
  presenceResult,
  transportStatus,
} from "./centrifugo.js";

export interface HttpApiDeps {
  /** The dispatcher, once the gateway has started (503 before). */
  readonly dispatcher: () => Dispatcher | undefined;
  /** HTTP_API_KEY; undefined leaves the API open (a loopback address only: see listenAddressOf). */
  readonly apiKey: string | undefined;
  /** Every running gateway, for Centrifugo's `info`. */
  readonly nodes: () => Promise<NodeInfo[]>;
  readonly log: Logger;
}

const EMPTY = new Uint8Array(0);
const JSON_TYPE = "application/json; charset=utf-8";

function isTransportMode(req: FastifyRequest, header: string): boolean {
  const value = req.headers[header];
  return typeof value === "string" && value.trim().toLowerCase() === "transport";
}

/** Rate limits apply per HTTP connection (a keep-alive client is one client). */
function callerOf(req: FastifyRequest): Caller {
  return { answered: true, client: `http:${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? 0}` };
}

function bodyOf(req: FastifyRequest): Uint8Array {
  return req.body instanceof Uint8Array ? req.body : EMPTY;
}

/** A framework refusal (body over the limit, body not readable) as the API's error. */
function frameworkError(err: FastifyError): HeraldError {
  if (err instanceof HeraldError) return err;
  if (err.statusCode === 413) return new TooLargeError("request body is over 1048576 bytes (1 MiB)");
  if (err.statusCode !== undefined && err.statusCode < 500) {
    return new InvalidParamsError(`the request could not be read: ${echo(err.message)}`);
  }
  return toHeraldError(err);
}

/** Herald's API takes JSON: `Content-Type: application/json` (any charset parameter) or none. */
function checkContentType(req: FastifyRequest): void {
  const type = req.headers["content-type"];
  if (type === undefined) return;
  const media = type.split(";")[0]?.trim().toLowerCase();
  if (media !== "application/json") {
    throw new InvalidParamsError(`Content-Type must be application/json, got ${JSON.stringify(echo(type))}`);
  }
}

/** Reads every body as bytes: the dispatcher decodes and checks it, as it does a NATS payload. */
function rawBodies(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
}

/**
 * 401 before the body is read, unless the request carries the key. With `queryKey` (the
 * Centrifugo routes), `?api_key=` is tried whenever the headers carry no valid key, as Centrifugo
 * does: cent.js, for one, always sends `X-API-Key` (the string "undefined" when not configured).
 */
function requireKey(scope: FastifyInstance, key: ApiKey | undefined, queryKey: boolean): void {
  if (key === undefined) return;
  scope.addHook("onRequest", async (req, reply) => {
    if (key.matches(presentedKey(req.headers, undefined))) return;
    const query = queryKey ? (req.query as Record<string, unknown>).api_key : undefined;
    if (typeof query === "string" && key.matches(query)) return;
    return reply
      .code(401)
      .send(errorBody(401, "missing or wrong API key: send X-API-Key: <key> or Authorization: apikey <key>"));
  });
}

export function registerHttpApi(http: FastifyInstance, deps: HttpApiDeps): void {
  const key = deps.apiKey === undefined ? undefined : new ApiKey(deps.apiKey);
  const dispatcher = (): Dispatcher => {
    const d = deps.dispatcher();
    if (d === undefined) throw new NotReadyError("the gateway is starting; retry shortly");
    return d;
  };
  const logInternal = (err: unknown, req: FastifyRequest) => {
    if (toHeraldError(err).code === ErrorCode.Internal)
      deps.log.error({ err, url: req.url }, "HTTP request failed");
  };

  // ---- Herald's API: {"result"} or {"error"}; HTTP 200 unless X-Error-Mode: transport ----
  void http.register(
    async (api) => {
      rawBodies(api);
      requireKey(api, key, false);
      const sendError = (req: FastifyRequest, reply: FastifyReply, err: HeraldError) =>
        reply
          .code(isTransportMode(req, "x-error-mode") ? err.code : 200)
          .type(JSON_TYPE)
          .send(JSON.stringify(err.toJSON()));
      api.setErrorHandler((err: FastifyError, req, reply) => {
        const e = frameworkError(err);
        logInternal(e, req);
        return sendError(req, reply, e);
      });
      api.post("/batch", async (req, reply) => {
        checkContentType(req);
        const d = dispatcher();
        const caller = callerOf(req);
        const replies = await runBatch(
          parseBatch(decodeBody(bodyOf(req))),
          (method, params) => d.handleParams(method, params, caller),
          (err) => {
            logInternal(err, req);
            return toHeraldError(err).toJSON();
          },
        );
        return reply.type(JSON_TYPE).send(JSON.stringify({ replies }));
      });
      api.post<{ Params: { method: string } }>("/:method", async (req, reply) => {
        checkContentType(req);
        const result = await dispatcher().handle(req.params.method, bodyOf(req), callerOf(req));
        return reply.type(JSON_TYPE).send(JSON.stringify({ result }));
      });
    },
    { prefix: "/api" },
  );

  // ---- Centrifugo's server API (v5/v6): its methods, codes and error mode ----
  const centrifugoError = (err: unknown): { code: CentrifugoCode; message: string } => {
    const h = toHeraldError(err);
    return { code: centrifugoCode(h.code), message: h.message };
  };
  /** One Centrifugo method (batch included), answered with its result or thrown. */
  const serve = async (method: string, params: unknown, caller: Caller): Promise<object> => {
    if (PASSED_THROUGH.has(method)) return dispatcher().handleParams(method, params, caller);
    switch (method) {
      case "presence": {
        const result = (await dispatcher().handleParams("presence", params, caller)) as { members: Member[] };
        return presenceResult(result.members);
      }
      case "info":
        return { nodes: await deps.nodes() };
      case "batch": {
        const replies = await runBatch(
          parseBatch(params),
          (m, p) => serve(m, p, caller),
          (err) => ({ error: centrifugoError(err) }),
        );
        return { replies };
      }
      default:
        // Centrifugo's 108 "not available" is Herald's 503 in its mapping.
        if (NOT_SERVED.has(method)) {
          throw new NotReadyError(
            `${echo(method)} is a Centrifugo method Herald does not serve (Herald serves presence and user status)`,
          );
        }
        throw new UnknownMethodError(method);
    }
  };
  void http.register(
    async (api) => {
      rawBodies(api);
      requireKey(api, key, true);
      const sendError = (req: FastifyRequest, reply: FastifyReply, err: unknown) => {
        logInternal(err, req);
        const error = centrifugoError(err);
        return isTransportMode(req, "x-centrifugo-error-mode")
          ? reply.code(transportStatus(error.code)).type(JSON_TYPE).send(JSON.stringify(error))
          : reply.code(200).type(JSON_TYPE).send(JSON.stringify({ error }));
      };
      api.setErrorHandler((err: FastifyError, req, reply) => sendError(req, reply, frameworkError(err)));
      api.post<{ Params: { method: string } }>("/api/:method", async (req, reply) => {
        const { method } = req.params;
        const result = await serve(method, decodeBody(bodyOf(req)), callerOf(req));
        // A batch answers {"replies"} itself, as Centrifugo's does; every other method {"result"}.
        return reply.type(JSON_TYPE).send(JSON.stringify(method === "batch" ? result : { result }));
      });
      // The legacy endpoint: newline-separated {"method", "params"} commands, one reply line each.
      api.post("/api", async (req, reply) => {
        const caller = callerOf(req);
        const body = Buffer.from(bodyOf(req));
        if (body.length > limits.requestMaxBytes) {
          throw new TooLargeError(
            `request body has ${body.length} bytes; at most ${limits.requestMaxBytes} are allowed`,
          );
        }
        // Split as bytes: each line is then decoded strictly (a line that is not UTF-8 is refused).
        const lines: Buffer[] = [];
        for (let start = 0; start <= body.length; ) {
          const end = body.indexOf(0x0a, start);
          const line = body.subarray(start, end === -1 ? body.length : end);
          if (line.toString("latin1").trim() !== "") lines.push(line);
          if (end === -1) break;
          start = end + 1;
        }
        if (lines.length > 1000)
          throw new TooLargeError(`${lines.length} commands, at most 1000 are allowed`);
        const replies: string[] = [];
        for (const line of lines) {
          try {
            const cmd = decodeBody(line);
            if (
              typeof cmd !== "object" ||
              cmd === null ||
              typeof (cmd as { method?: unknown }).method !== "string"
            ) {
              throw new InvalidParamsError('each line must be {"method": "<name>", "params": {...}}');
            }
            const { method, params } = cmd as { method: string; params?: unknown };
            replies.push(JSON.stringify({ result: await serve(method, params ?? {}, caller) }));
          } catch (err) {
            logInternal(err, req);
            replies.push(JSON.stringify({ error: centrifugoError(err) }));
          }
        }
        return reply.type(JSON_TYPE).send(replies.join("\n"));
      });
    },
    { prefix: "/centrifugo" },
  );
}
