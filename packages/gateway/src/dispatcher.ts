/**
 * The one dispatcher of every method, whatever the transport: parses a request for its method
 * and serves it. Commands are stamped and appended (answered once durable; one that the state
 * may refuse — `update` — once its user's owner has applied or refused it); queries are
 * answered from the view (503 until it is loaded) or, for history, from the events stream.
 * Every refusal is a HeraldError with its public code; anything else thrown is a bug (answered
 * 500 by the transport).
 */
import {
  type ApiRequest,
  type Command,
  type Config,
  decodeBody,
  echo,
  HeraldError,
  isCommandMethod,
  isMethod,
  parseParams,
  RateLimitedError,
  toHeraldError,
  UnknownMethodError,
} from "@herald/protocol";
import type { BatchingAppender } from "./appender.js";
import { type CommandRequest, isCommandRequest, needsVerdict, toCommands } from "./commands.js";
import { ViewNotReadyError } from "./errors.js";
import { type EventLog, readHistory, readStatusAt } from "./history.js";
import { RateLimiter } from "./rate-limit.js";
import type { Verdicts } from "./verdicts.js";
import type { PresenceView } from "./view.js";

export interface DispatcherDeps {
  readonly config: Pick<Config, "ttlMs" | "maxTtlMs" | "userRate" | "clientRate">;
  readonly appender: Pick<BatchingAppender, "append">;
  readonly view: PresenceView;
  /** True once the view holds what the KV buckets held at start. */
  readonly viewReady: () => boolean;
  readonly verdicts: Verdicts;
  readonly events: EventLog;
  /** Unix milliseconds: the stamp of commands and the "now" of queries. */
  readonly now: () => number;
  /** Told of every request served: its method, whether a command, its error code (undefined: a result) and time taken. */
  readonly observe?: (method: string, command: boolean, code: number | undefined, seconds: number) => void;
}

/** The `result` of a reply. */
export type Result = object;

/** Who sent a request, as far as its transport can tell. */
export interface Caller {
  /** Someone waits for the answer (false for a plain publish: no owner's verdict is awaited). */
  readonly answered: boolean;
  /** The client connection (rate-limited per client), when the transport knows it. */
  readonly client?: string;
}

const ANSWERED: Caller = { answered: true };

/** How many commands each user has in `cmds`. */
function perUser(cmds: readonly Command[]): Map<string, number> {
  const n = new Map<string, number>();
  for (const c of cmds) n.set(c.user, (n.get(c.user) ?? 0) + 1);
  return n;
}

export class Dispatcher {
  readonly #deps: DispatcherDeps;
  readonly #users: RateLimiter;
  readonly #clients: RateLimiter;

  constructor(deps: DispatcherDeps) {
    this.#deps = deps;
    this.#users = new RateLimiter(deps.config.userRate);
    this.#clients = new RateLimiter(deps.config.clientRate);
  }

  /** Keys with a rate-limit bucket now (users, clients). */
  get limited(): { users: number; clients: number } {
    return { users: this.#users.size, clients: this.#clients.size };
  }

  /**
   * Parses `body` for `method` and serves it. Throws HeraldError (400, 404, 409, 413, 429, 503).
   */
  handle(method: string, body: Uint8Array, caller: Caller = ANSWERED): Promise<Result> {
    return this.#observed(method, () => {
      if (!isMethod(method)) throw new UnknownMethodError(method);
      return this.#serve(method, decodeBody(body), caller);
    });
  }

  /** {@link handle} of params already decoded from JSON (a command of an HTTP batch). */
  handleParams(method: string, params: unknown, caller: Caller = ANSWERED): Promise<Result> {
    return this.#observed(method, () => this.#serve(method, params, caller));
  }

  async #observed(method: string, work: () => Promise<Result>): Promise<Result> {
    const observe = this.#deps.observe;
    if (observe === undefined) return work();
    const started = performance.now();
    const command = isCommandMethod(method);
    try {
      const result = await work();
      observe(method, command, undefined, (performance.now() - started) / 1000);
      return result;
    } catch (err) {
      observe(method, command, toHeraldError(err).code, (performance.now() - started) / 1000);
      throw err;
    }
  }

  async #serve(method: string, params: unknown, caller: Caller): Promise<Result> {
    const nowMs = this.#deps.now();
    const req = parseParams(method, params, { maxTtlMs: this.#deps.config.maxTtlMs, nowMs });
    if (caller.client !== undefined && !this.#clients.takeOne(caller.client, 1, nowMs)) {
      throw this.#limited(this.#clients, caller.client, "client");
    }
    return isCommandRequest(req) ? this.#command(req, nowMs, caller) : this.#query(req, nowMs);
  }

  /**
   * 429 (taking nothing) unless each user of `cmds` has a token per command of theirs.
   * Heartbeats take none: a live conn's heartbeat is the cheapest command there is, and a
   * user's heartbeats are bounded by HERALD_MAX_CONNS_PER_USER and the client's own rate.
   */
  #limitUsers(cmds: readonly Command[], nowMs: number): void {
    if (cmds[0]?.type === "heartbeat") return;
    const first = cmds[0];
    if (cmds.length === 1 && first !== undefined) {
      if (!this.#users.takeOne(first.user, 1, nowMs)) throw this.#limited(this.#users, first.user, "user");
      return;
    }
    const over = this.#users.take(perUser(cmds), nowMs);
    if (over !== undefined) throw this.#limited(this.#users, over, "user");
  }

  #limited(limiter: RateLimiter, key: string, what: "user" | "client"): RateLimitedError {
    const variable = what === "user" ? "HERALD_USER_RATE" : "HERALD_CLIENT_RATE";
    const unit = what === "user" ? "commands" : "requests";
    return new RateLimitedError(
      `rate limited: ${what} ${JSON.stringify(echo(key))} sends more than ${limiter.rate} ${unit} per second (${variable}); retry later`,
    );
  }

  async #command(req: CommandRequest, nowMs: number, caller: Caller): Promise<Result> {
    const { appender, config, verdicts } = this.#deps;
    const waiting = caller.answered && needsVerdict(req) ? verdicts.expect() : undefined;
    const cmds = toCommands(req, nowMs, config.ttlMs, waiting?.reply);
    try {
      this.#limitUsers(cmds, nowMs);
      // Throws (appending nothing) when overloaded or stopping.
      await appender.append(cmds);
    } catch (err) {
      waiting?.cancel();
      throw err;
    }
    if (waiting === undefined) return {};
    const verdict = await waiting.verdict;
    if (verdict.code !== undefined) {
      throw new HeraldError(verdict.code as HeraldError["code"], verdict.message ?? "refused");
    }
    return {};
  }

  #view(): PresenceView {
    if (!this.#deps.viewReady()) throw new ViewNotReadyError();
    return this.#deps.view;
  }

  async #query(req: Exclude<ApiRequest, CommandRequest>, nowMs: number): Promise<Result> {
    switch (req.method) {
      case "get_user_status": {
        const { users, include_hidden } = req.params;
        return { statuses: this.#view().getUserStatus(users, include_hidden === true, nowMs) };
      }
      case "presence":
        return { members: this.#view().presence(req.params.channel) };
      case "presence_stats":
        return this.#view().presenceStats(req.params.channel);
      case "channel_users":
        return { users: this.#view().channelUsers(req.params.channel) };
      case "user_channels":
        return { channels: this.#view().userChannels(req.params.user) };
      case "is_present":
        return { present: this.#view().isPresent(req.params.channel, req.params.user) };
      case "history":
        return readHistory(this.#deps.events, req.params);
      case "status_at":
        return readStatusAt(this.#deps.events, req.params);
    }
  }
}
