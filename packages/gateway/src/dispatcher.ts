/**
 * The one dispatcher of the API subjects (`subjects.api`): parses a request for its method and serves it.
 * Commands are stamped and appended (answered once durable); queries are answered from the
 * view (503 until it is loaded) or, for history, from the events stream. Every refusal is a
 * HeraldError with its public code; anything else thrown is a bug (answered 500 by the caller).
 */
import {
  type ApiRequest,
  type Config,
  ConflictError,
  memberKey,
  type ParamsByMethod,
  parseRequest,
} from "@herald/protocol";
import type { BatchingAppender } from "./appender.js";
import { type CommandRequest, isCommandRequest, toCommands } from "./commands.js";
import { ViewNotReadyError } from "./errors.js";
import { type EventLog, readHistory, readStatusAt } from "./history.js";
import type { RecentJoins } from "./recent-joins.js";
import type { PresenceView } from "./view.js";

export interface DispatcherDeps {
  readonly config: Pick<Config, "ttlMs" | "maxTtlMs">;
  readonly appender: Pick<BatchingAppender, "append">;
  readonly view: PresenceView;
  /** True once the view holds what the KV buckets held at start. */
  readonly viewReady: () => boolean;
  readonly recentJoins: RecentJoins;
  readonly events: EventLog;
  /** Unix milliseconds: the stamp of commands and the "now" of queries. */
  readonly now: () => number;
}

/** The `result` of a reply. */
export type Result = object;

export class Dispatcher {
  readonly #deps: DispatcherDeps;

  constructor(deps: DispatcherDeps) {
    this.#deps = deps;
  }

  /** Parses `body` for `method` and serves it. Throws HeraldError (400, 404, 409, 413, 503). */
  async handle(method: string, body: Uint8Array): Promise<Result> {
    const nowMs = this.#deps.now();
    const req = parseRequest(method, body, { maxTtlMs: this.#deps.config.maxTtlMs, nowMs });
    return isCommandRequest(req) ? this.#command(req, nowMs) : this.#query(req, nowMs);
  }

  async #command(req: CommandRequest, nowMs: number): Promise<Result> {
    const { appender, recentJoins, config } = this.#deps;
    if (req.method === "update") this.#checkJoined(req.params, nowMs);
    // Throws (appending nothing) when overloaded or stopping.
    const stored = appender.append(toCommands(req, nowMs, config.ttlMs));
    // Remembered at once, so an update sent right behind its join is not refused.
    switch (req.method) {
      case "join":
        recentJoins.joined(req.params.channel, req.params.user, req.params.conn, nowMs);
        break;
      case "leave":
        recentJoins.forget(memberKey(req.params.channel, req.params.user, req.params.conn));
        break;
      case "disconnect":
        recentJoins.disconnected(req.params.user, req.params.conn);
        break;
      default:
        break;
    }
    try {
      await stored;
    } catch (err) {
      // A join that was not stored must not let updates through.
      if (req.method === "join")
        recentJoins.forget(memberKey(req.params.channel, req.params.user, req.params.conn));
      throw err;
    }
    return {};
  }

  /** 409 unless the member is in the view or was joined through this gateway recently. */
  #checkJoined(p: ParamsByMethod["update"], nowMs: number): void {
    const { view, viewReady, recentJoins } = this.#deps;
    const key = memberKey(p.channel, p.user, p.conn);
    if (recentJoins.has(key, nowMs)) return;
    if (!viewReady()) throw new ViewNotReadyError();
    if (view.hasMember(key)) return;
    throw new ConflictError(
      `update: conn ${JSON.stringify(p.conn)} of user ${JSON.stringify(p.user)} has not joined channel ${JSON.stringify(p.channel)}`,
    );
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
