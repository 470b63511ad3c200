/**
 * The one dispatcher of every method, whatever the transport: parses a request for its method
 * and serves it. Commands are stamped and appended (answered once durable; one that the state
 * may refuse — `update` — once its user's owner has applied or refused it); queries are
 * answered from the view (503 until it is loaded) or, for history, from the events stream.
 * Every refusal is a HeraldError with its public code; anything else thrown is a bug (answered
 * 500 by the transport).
 */
import { type ApiRequest, type Config, HeraldError, parseRequest } from "@herald/protocol";
import type { BatchingAppender } from "./appender.js";
import { type CommandRequest, isCommandRequest, needsVerdict, toCommands } from "./commands.js";
import { ViewNotReadyError } from "./errors.js";
import { type EventLog, readHistory, readStatusAt } from "./history.js";
import type { Verdicts } from "./verdicts.js";
import type { PresenceView } from "./view.js";

export interface DispatcherDeps {
  readonly config: Pick<Config, "ttlMs" | "maxTtlMs">;
  readonly appender: Pick<BatchingAppender, "append">;
  readonly view: PresenceView;
  /** True once the view holds what the KV buckets held at start. */
  readonly viewReady: () => boolean;
  readonly verdicts: Verdicts;
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

  /**
   * Parses `body` for `method` and serves it. Throws HeraldError (400, 404, 409, 413, 503).
   * `answered` is false for a plain publish: nobody waits for the owner's verdict.
   */
  async handle(method: string, body: Uint8Array, answered = true): Promise<Result> {
    const nowMs = this.#deps.now();
    const req = parseRequest(method, body, { maxTtlMs: this.#deps.config.maxTtlMs, nowMs });
    return isCommandRequest(req) ? this.#command(req, nowMs, answered) : this.#query(req, nowMs);
  }

  async #command(req: CommandRequest, nowMs: number, answered: boolean): Promise<Result> {
    const { appender, config, verdicts } = this.#deps;
    if (!answered || !needsVerdict(req)) {
      // Throws (appending nothing) when overloaded or stopping.
      await appender.append(toCommands(req, nowMs, config.ttlMs));
      return {};
    }
    const waiting = verdicts.expect();
    try {
      await appender.append(toCommands(req, nowMs, config.ttlMs, waiting.reply));
    } catch (err) {
      waiting.cancel();
      throw err;
    }
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
