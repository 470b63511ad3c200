/**
 * The NATS micro service `presence`: ONE endpoint on the API subjects (`subjects.api`) in the service's default
 * queue group, so any number of gateways share the requests and `$SRV.PING|INFO|STATS` work.
 * Per-method endpoints are deliberately absent: a wildcard endpoint would receive their
 * requests too, and a requester takes whichever reply comes first.
 *
 * A request (with a reply subject) is answered `{"result": ...}` or, for any HeraldError,
 * `{"error": {code, message}}` with the Nats-Service-Error headers; anything unexpected is 500
 * "internal error" and logged. A plain publish (no reply subject) of a command is applied the
 * same way, fire-and-forget: an invalid one is dropped, logged at debug and counted; the
 * counts are in the endpoint's `data` of `$SRV.STATS`.
 */
import {
  ErrorCode,
  isCommandMethod,
  isMethod,
  limits,
  SERVICE_NAME,
  subjects,
  TooLargeError,
  toHeraldError,
} from "@herald/protocol";
import type { Logger } from "@herald/runtime";
import type { NatsConnection } from "@nats-io/nats-core";
import { type Service, type ServiceMsg, Svcm } from "@nats-io/services";
import type { Dispatcher } from "./dispatcher.js";
import { LogThrottle } from "./log-throttle.js";
import { errorReply, resultBody } from "./replies.js";

/** The service version announced in `$SRV.INFO` (semver). */
export const SERVICE_VERSION = "0.1.0";
/** The endpoint's name (one token) in `$SRV.INFO` and `$SRV.STATS`. */
export const ENDPOINT_NAME = "api";

export interface ApiCounters {
  /** Error replies by code. */
  readonly errors: Record<string, number>;
  /** Plain-published commands appended. */
  readonly plain_appended: number;
  /** Plain-published commands refused as invalid (400, 404, 409, 413) and dropped. */
  readonly plain_dropped: number;
  /** Plain-published commands that could not be appended (503, 500). */
  readonly plain_failed: number;
  /** Plain-published queries: nobody to answer. */
  readonly plain_ignored: number;
  /** Requests ignored because their reply subject is internal (Herald's, the API's, the server's). */
  readonly bad_reply_subject: number;
}

/** Codes of a request that is wrong in itself, as opposed to one the gateway could not serve. */
const INVALID: ReadonlySet<number> = new Set([
  ErrorCode.InvalidParams,
  ErrorCode.UnknownMethod,
  ErrorCode.Conflict,
  ErrorCode.TooLarge,
]);

/** Reply subjects the gateway never answers on: Herald's own, the API's, the server's (`$JS`, `$KV`…). */
const INTERNAL_REPLY_PREFIXES = ["herald.", "presence.", "$"];

/** Room left in a reply for the micro-service headers. */
const REPLY_HEADROOM_BYTES = 4096;

/** 413 for a result that does not fit in one reply, saying how to ask for less. */
function replyTooLarge(method: string, size: number, max: number): TooLargeError {
  const narrower: Record<string, string> = {
    presence: "use presence_stats or channel_users for a channel this large",
    history: "ask for fewer events (limit) or a shorter since_ms..until_ms window",
    get_user_status: "ask for fewer users at a time",
    status_at: "ask for fewer users at a time",
    channel_users: "use presence_stats for a channel this large",
    user_channels: "this user is in too many channels to list at once",
  };
  return new TooLargeError(
    `the reply has ${size} bytes, over the ${max} one reply can carry: ${narrower[method] ?? "ask for less"}`,
  );
}

/**
 * The client connection a request comes from, as its reply subject tells: a requester's replies
 * come to its own inbox, `<prefix>.<token>` (nats.js and the `nats` CLI alike).
 */
function clientOf(reply: string): string {
  const dot = reply.lastIndexOf(".");
  return dot > 0 ? reply.slice(0, dot) : reply;
}

export class ApiService {
  readonly #service: Service;
  /** Requests being served, and who waits for them to be done (stop). */
  #inflight = 0;
  #drained: (() => void) | undefined;
  /** Published commands that could not be appended are logged at most once a second. */
  readonly #failedLog = new LogThrottle();
  readonly #counters = {
    errors: {} as Record<string, number>,
    plain_appended: 0,
    plain_dropped: 0,
    plain_failed: 0,
    plain_ignored: 0,
    bad_reply_subject: 0,
  };

  readonly #maxPayload: () => number;

  private constructor(service: Service, nc: NatsConnection) {
    this.#service = service;
    this.#maxPayload = () => nc.info?.max_payload ?? limits.requestMaxBytes;
  }

  /**
   * Starts serving. `stats` adds to the endpoint's `data` in `$SRV.STATS` (the counters of
   * the other parts).
   */
  static async start(
    nc: NatsConnection,
    dispatcher: Dispatcher,
    log: Logger,
    stats: () => Record<string, unknown>,
  ): Promise<ApiService> {
    let api: ApiService | undefined;
    const service = await new Svcm(nc).add({
      name: SERVICE_NAME,
      version: SERVICE_VERSION,
      description: "Herald presence and user status API (CONTRACT.md §4)",
      statsHandler: async () => ({ ...api?.counters(), ...stats() }),
    });
    api = new ApiService(service, nc);
    const self = api;
    service.addEndpoint(ENDPOINT_NAME, {
      subject: subjects.api,
      handler: (err, msg) => {
        if (err !== null) {
          log.error({ err }, "API subscription failed");
          return;
        }
        self.#inflight++;
        self.#serve(msg, dispatcher, log).then(
          () => self.#done(),
          (e: unknown) => {
            log.error({ err: e }, "failed to answer a request");
            self.#done();
          },
        );
      },
    });
    // Once the server has the subscriptions, the service is reachable when start resolves.
    await nc.flush();
    log.info({ service: SERVICE_NAME, id: service.info().id, subject: subjects.api }, "API service started");
    return api;
  }

  get id(): string {
    return this.#service.info().id;
  }

  counters(): ApiCounters {
    return { ...this.#counters, errors: { ...this.#counters.errors } };
  }

  /** Stops taking requests (the subscription drains) and waits for those being served. */
  async stop(): Promise<void> {
    await this.#service.stop();
    if (this.#inflight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
  }

  #done(): void {
    if (--this.#inflight === 0) this.#drained?.();
  }

  async #serve(msg: ServiceMsg, dispatcher: Dispatcher, log: Logger): Promise<void> {
    const method = subjects.methodOf(msg.subject) ?? "";
    if (!msg.reply) {
      await this.#servePlain(method, msg.data, dispatcher, log);
      return;
    }
    // Never answer onto a subject of Herald's or of the server's (a stream's subject, say): the
    // gateway would write there with its own permissions. Any other inbox gets its answer.
    const reply = msg.reply;
    if (INTERNAL_REPLY_PREFIXES.some((prefix) => reply.startsWith(prefix))) {
      this.#counters.bad_reply_subject++;
      this.#failedLog.warn(log, { method }, "ignoring a request whose reply subject is internal");
      return;
    }
    let body: Uint8Array;
    try {
      const result = await dispatcher.handle(method, msg.data, {
        answered: true,
        client: clientOf(msg.reply),
      });
      body = resultBody(result);
      // A reply the server would refuse (over its max_payload) would leave the caller waiting.
      const max = this.#maxPayload() - REPLY_HEADROOM_BYTES;
      if (body.length > max) throw replyTooLarge(method, body.length, max);
    } catch (e) {
      const err = toHeraldError(e);
      if (err.code === ErrorCode.Internal) log.error({ err: e, method }, "internal error");
      else log.debug({ method, code: err.code, message: err.message }, "request refused");
      this.#counters.errors[err.code] = (this.#counters.errors[err.code] ?? 0) + 1;
      const reply = errorReply(err);
      msg.respondError(reply.code, reply.description, reply.body);
      return;
    }
    msg.respond(body);
  }

  async #servePlain(method: string, data: Uint8Array, dispatcher: Dispatcher, log: Logger): Promise<void> {
    if (isMethod(method) && !isCommandMethod(method)) {
      this.#counters.plain_ignored++;
      log.debug({ method }, "ignoring a query without a reply subject");
      return;
    }
    try {
      await dispatcher.handle(method, data, { answered: false });
      this.#counters.plain_appended++;
    } catch (e) {
      const err = toHeraldError(e);
      if (INVALID.has(err.code)) {
        this.#counters.plain_dropped++;
        log.debug({ method, code: err.code, message: err.message }, "dropped an invalid published command");
      } else {
        this.#counters.plain_failed++;
        if (err.code === ErrorCode.Internal) log.error({ err: e, method }, "internal error");
        else
          this.#failedLog.warn(log, { method, message: err.message }, "could not append a published command");
      }
    }
  }
}
