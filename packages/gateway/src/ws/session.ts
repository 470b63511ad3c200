/**
 * One WebSocket: one conn of one user (CONTRACT.md §8). Frames are JSON text; the first must be
 * `connect` with a token, within the connect timeout. Methods act for the connected user only
 * and go through the same dispatcher as every other transport; the token's `channels` and
 * `watch` claims bound what the socket may touch (403). Subscriptions and watches go to the hub;
 * its pushes come back through `send`, which closes a socket whose send buffer keeps growing.
 */
import {
  ErrorCode,
  echo,
  HeraldError,
  InvalidParamsError,
  isValidId,
  limits,
  RateLimitedError,
  TooLargeError,
  toHeraldError,
  UnknownMethodError,
} from "@herald/protocol";
import type { Logger } from "@herald/runtime";
import { nuid } from "@nats-io/nats-core";
import type { Dispatcher } from "../dispatcher.js";
import type { RateLimiter } from "../rate-limit.js";
import type { HeartbeatBatcher } from "./heartbeats.js";
import type { Hub, Sink } from "./hub.js";
import { type Grant, TokenError, type TokenVerifier } from "./tokens.js";

/** Close codes of the edge (README "WebSocket"). */
export const Close = {
  /** The gateway is stopping. */
  GoingAway: 1001,
  /** A binary frame. */
  Unsupported: 1003,
  /** No, a bad or an expired token; or a method before `connect`. */
  Unauthorized: 4401,
  /** The client reads its pushes too slowly: its send buffer went over the limit. */
  SlowConsumer: 4408,
  /** The connect was refused by a limit (the user's conns). */
  Refused: 4429,
} as const;

/** What a socket needs from the connection it is on. */
export interface Socket {
  /** A text frame. */
  send(data: string): void;
  /** A frame already encoded: with `binary: false`, the UTF-8 of a text frame. */
  send(data: Buffer, opts: { binary: boolean }): void;
  close(code: number, reason: string): void;
  /** Cuts the connection without a closing handshake. */
  terminate(): void;
  readonly bufferedAmount: number;
}

export interface SessionDeps {
  readonly dispatcher: Dispatcher;
  readonly hub: Hub;
  readonly tokens: TokenVerifier;
  readonly heartbeats: HeartbeatBatcher;
  /** Requests per socket (429 beyond). */
  readonly rate: RateLimiter;
  readonly ttlMs: number;
  /** Subscriptions one socket may hold (HERALD_MAX_CHANNELS_PER_CONN). */
  readonly maxSubscriptions: number;
  /** Users one socket may watch. */
  readonly maxWatched: number;
  /** Bytes a socket's send buffer may hold before it is closed as a slow consumer. */
  readonly maxBufferedBytes: number;
  readonly connectTimeoutMs: number;
  readonly now: () => number;
  readonly log: Logger;
  /** Told when a socket closes, with its code (metrics). */
  readonly closed?: (code: number) => void;
}

/** 403: a channel or user outside the token's claims. */
class ForbiddenError extends HeraldError {
  override readonly name = "ForbiddenError";
  constructor(message: string) {
    super(403 as HeraldError["code"], message);
  }
}

/** 401: a method before `connect`. */
class NotConnectedError extends HeraldError {
  override readonly name = "NotConnectedError";
  constructor() {
    super(401 as HeraldError["code"], "connect first: the first frame must be connect {token}");
  }
}

type Params = Record<string, unknown>;

/** The close code of a connection that ended without a closing handshake. */
const ABNORMAL_CLOSURE = 1006;

const ALLOWED: Record<string, readonly string[]> = {
  connect: ["token", "conn", "user"],
  refresh: ["token"],
  join: ["channel", "data"],
  update: ["channel", "data"],
  leave: ["channel"],
  activity: [],
  set_status: ["status", "text", "emoji", "expires_at_ms"],
  subscribe: ["channel"],
  unsubscribe: ["channel"],
  watch: ["users"],
  unwatch: ["users"],
  presence: ["channel"],
  presence_stats: ["channel"],
  get_user_status: ["users"],
};

export class Session implements Sink {
  readonly id = nuid.next();
  #grant: Grant | undefined;
  #conn: string | undefined;
  #closed = false;
  #connecting = false;
  /** The code this side closed with (reported even when the peer never answers the close). */
  #closeCode: number | undefined;
  /** Snapshot requests (subscribe, watch) being answered, and the pushes waiting behind them. */
  #answering = 0;
  readonly #held: (string | Buffer)[] = [];
  readonly #subscribed = new Set<string>();
  readonly #watched = new Set<string>();
  readonly #connectTimer: NodeJS.Timeout;
  #expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: Socket,
    readonly deps: SessionDeps,
  ) {
    this.#connectTimer = setTimeout(
      () => this.close(Close.Unauthorized, `no connect within ${deps.connectTimeoutMs} ms`),
      deps.connectTimeoutMs,
    );
  }

  get user(): string | undefined {
    return this.#grant?.user;
  }

  /**
   * A push from the hub. While a `subscribe` or `watch` is being answered, pushes wait behind
   * its reply: the hub may fan a change out between adding this socket and the reply going out
   * (another feed's turn in between), and a client ignores a channel's pushes before its snapshot.
   */
  send(frame: string | Buffer): void {
    if (this.#answering > 0) this.#held.push(frame);
    else this.#write(frame);
  }

  /** The reply of a snapshot has gone: what waited behind it follows, in order. */
  #released(): void {
    if (--this.#answering > 0) return;
    const held = this.#held.splice(0);
    for (const frame of held) this.#write(frame);
  }

  /** A frame to the client; a client that cannot keep up is closed, not buffered for. */
  #write(frame: string | Buffer): void {
    if (this.#closed) return;
    if (this.socket.bufferedAmount > this.deps.maxBufferedBytes) {
      // A close frame would queue behind what the client is not reading: cut it off instead.
      if (this.#closeCode === undefined) {
        this.#closeCode = Close.SlowConsumer;
        this.deps.log.info(
          { user: this.user, buffered: this.socket.bufferedAmount },
          "closing a slow consumer",
        );
        this.socket.terminate();
      }
      return;
    }
    if (typeof frame === "string") this.socket.send(frame);
    else this.socket.send(frame, { binary: false });
  }

  close(code: number, reason: string): void {
    if (this.#closed || this.#closeCode !== undefined) return;
    this.#closeCode = code;
    this.socket.close(code, reason);
    // The socket's close event runs `ended`.
  }

  /** A text frame from the client. */
  onFrame(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      this.send(JSON.stringify(new InvalidParamsError("the frame is not JSON").toJSON()));
      return;
    }
    const { id, method, params } = (typeof msg === "object" && msg !== null ? msg : {}) as Params;
    const reply = (body: object) => this.#write(JSON.stringify(id === undefined ? body : { id, ...body }));
    if (typeof id !== "number" || !Number.isSafeInteger(id)) {
      reply(
        new InvalidParamsError('a request is {"id": <integer>, "method": "<name>", "params": {…}}').toJSON(),
      );
      return;
    }
    if (!this.deps.rate.takeOne(this.id, 1, this.deps.now())) {
      reply(
        new RateLimitedError(
          `rate limited: more than ${this.deps.rate.rate} requests per second on this connection`,
        ).toJSON(),
      );
      return;
    }
    const snapshot = method === "subscribe" || method === "watch";
    if (snapshot) this.#answering++;
    this.#call(method, params ?? {})
      .then(
        (result) => reply({ result }),
        (err: unknown) => {
          const e = toHeraldError(err);
          if (e.code === ErrorCode.Internal) this.deps.log.error({ err, method }, "WebSocket request failed");
          reply(e.toJSON());
          if (err instanceof NotConnectedError) this.close(Close.Unauthorized, "connect first");
        },
      )
      .finally(() => {
        if (snapshot) this.#released();
      });
  }

  /**
   * The socket closed: its subscriptions go, and its conn ends now — unless the peer vanished
   * (1006: no closing handshake, such as a dead network or a crashed client, or no pong), in
   * which case the conn is left to time out after its ttl, as CONTRACT.md §1 has it; so is it when
   * the gateway stops.
   */
  ended(code: number): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#expiryTimer);
    this.deps.closed?.(this.#closeCode ?? code);
    for (const channel of this.#subscribed) this.deps.hub.unsubscribe(channel, this);
    this.deps.hub.unwatch([...this.#watched], this);
    this.deps.heartbeats.remove(this.id);
    const user = this.#grant?.user;
    // Vanished, or the gateway stopping (its clients reconnect elsewhere within the ttl, so their
    // channels see no leave and join again): left to time out rather than disconnected.
    const vanished =
      (code === ABNORMAL_CLOSURE && this.#closeCode !== Close.SlowConsumer) ||
      this.#closeCode === Close.GoingAway;
    if (user !== undefined && this.#conn !== undefined && !vanished) {
      this.deps.dispatcher.handleParams("disconnect", { user, conn: this.#conn }).catch((err: unknown) => {
        // The conn then times out after its ttl.
        this.deps.log.warn(
          { err: toHeraldError(err).message },
          "could not send the disconnect of a closed WebSocket",
        );
      });
    }
  }

  async #call(method: unknown, raw: unknown): Promise<object> {
    if (typeof method !== "string" || !(method in ALLOWED)) {
      throw new UnknownMethodError(typeof method === "string" ? method : String(method));
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new InvalidParamsError("params must be an object");
    }
    const params = raw as Params;
    const allowed = ALLOWED[method] as readonly string[];
    for (const key of Object.keys(params)) {
      if (!allowed.includes(key)) {
        const why = key === "user" || key === "conn" ? "; a socket acts for its own user and conn" : "";
        throw new InvalidParamsError(`${method}: unknown field ${JSON.stringify(echo(key))}${why}`);
      }
    }
    if (method === "connect") return this.#connect(params);
    const grant = this.#grant;
    const conn = this.#conn;
    if (grant === undefined || conn === undefined) throw new NotConnectedError();
    const { dispatcher } = this.deps;
    const user = grant.user;
    switch (method) {
      case "refresh":
        return this.#refresh(params.token);
      case "join":
      case "update":
      case "leave":
        this.#allowChannel(params.channel);
        return dispatcher.handleParams(method, { ...params, user, conn });
      case "activity":
        return dispatcher.handleParams("update_user_status", { users: [user] });
      case "set_status":
        return dispatcher.handleParams("set_status", { ...params, user });
      case "presence":
      case "presence_stats":
        this.#allowChannel(params.channel);
        return dispatcher.handleParams(method, params);
      case "get_user_status":
        this.#allowUsers(params.users);
        return dispatcher.handleParams(method, params);
      case "subscribe": {
        const channel = this.#channelParam(params.channel);
        this.#allowChannel(channel);
        if (!this.#subscribed.has(channel) && this.#subscribed.size >= this.deps.maxSubscriptions) {
          throw new TooLargeError(
            `subscribe: this connection has ${this.#subscribed.size} subscriptions, the most allowed (HERALD_MAX_CHANNELS_PER_CONN)`,
          );
        }
        this.#subscribed.add(channel);
        try {
          return await this.deps.hub.subscribe(channel, this);
        } catch (err) {
          this.#subscribed.delete(channel);
          throw err;
        }
      }
      case "unsubscribe": {
        const channel = this.#channelParam(params.channel);
        this.#subscribed.delete(channel);
        this.deps.hub.unsubscribe(channel, this);
        return {};
      }
      case "watch": {
        const users = this.#usersParam(params.users);
        this.#allowUsers(users);
        const fresh = users.filter((u) => !this.#watched.has(u));
        if (this.#watched.size + new Set(fresh).size > this.deps.maxWatched) {
          throw new TooLargeError(`watch: at most ${this.deps.maxWatched} users per connection`);
        }
        for (const u of users) this.#watched.add(u);
        try {
          return await this.deps.hub.watch(users, this);
        } catch (err) {
          for (const u of fresh) this.#watched.delete(u);
          throw err;
        }
      }
      case "unwatch": {
        const users = this.#usersParam(params.users);
        for (const u of users) this.#watched.delete(u);
        this.deps.hub.unwatch(users, this);
        return {};
      }
      default:
        throw new UnknownMethodError(method);
    }
  }

  async #connect(params: Params): Promise<object> {
    if (this.#grant !== undefined || this.#connecting)
      throw new InvalidParamsError("connect: already connected");
    const { tokens, heartbeats, dispatcher, ttlMs } = this.deps;
    const conn = params.conn === undefined ? nuid.next() : params.conn;
    if (typeof conn !== "string" || !isValidId(conn, limits.idMaxBytes)) {
      throw new InvalidParamsError(
        "connect: conn must be 1 to 128 bytes of UTF-8 with no control characters",
      );
    }
    this.#connecting = true;
    let grant: Grant;
    try {
      if (tokens.insecure && params.token === undefined) {
        // Development only (CLIENT_INSECURE): the client names its user.
        const user = params.user;
        if (typeof user !== "string" || !isValidId(user, limits.idMaxBytes)) {
          throw new InvalidParamsError("connect: user must be a valid user id (CLIENT_INSECURE)");
        }
        grant = { user, exp: Number.MAX_SAFE_INTEGER };
      } else {
        if (params.user !== undefined) throw new InvalidParamsError("connect: the user comes from the token");
        grant = await this.#verify(params.token);
      }
      if (this.#closed) return {};
      // The conn is live from here (its first heartbeat is activity: it connected).
      await dispatcher.handleParams("heartbeat", { user: grant.user, conn, ttl_ms: ttlMs });
    } finally {
      this.#connecting = false;
    }
    clearTimeout(this.#connectTimer);
    this.#grant = grant;
    this.#conn = conn;
    heartbeats.add(this.id, grant.user, conn);
    this.#armExpiry();
    return { user: grant.user, conn, ttl_ms: ttlMs };
  }

  async #refresh(token: unknown): Promise<object> {
    const grant = await this.#verify(token, false);
    if (grant.user !== this.#grant?.user) {
      throw new ForbiddenError("refresh: the new token names another user; nothing changed");
    }
    this.#grant = grant;
    this.#armExpiry();
    return {};
  }

  /** The token's grant; a bad one closes the socket (4401) after the reply, unless refreshing. */
  async #verify(token: unknown, closeOnFailure = true): Promise<Grant> {
    try {
      return await this.deps.tokens.verify(token, Math.floor(this.deps.now() / 1000));
    } catch (err) {
      const message = err instanceof TokenError ? err.message : "token refused";
      if (closeOnFailure) setImmediate(() => this.close(Close.Unauthorized, message.slice(0, 120)));
      throw new HeraldError(401 as HeraldError["code"], message);
    }
  }

  /** Closes the socket (4401) when the token's `exp` passes without a refresh. */
  #armExpiry(): void {
    clearTimeout(this.#expiryTimer);
    const exp = this.#grant?.exp;
    if (exp === undefined || exp >= Number.MAX_SAFE_INTEGER / 1000) return;
    const ms = Math.max(0, exp * 1000 - this.deps.now());
    // Timers hold at most ~24.8 days; a later expiry is checked again then.
    this.#expiryTimer = setTimeout(
      () =>
        exp * 1000 <= this.deps.now() ? this.close(Close.Unauthorized, "token expired") : this.#armExpiry(),
      Math.min(ms, 2 ** 31 - 1),
    );
  }

  #channelParam(channel: unknown): string {
    if (typeof channel !== "string" || !isValidId(channel, limits.channelMaxBytes)) {
      throw new InvalidParamsError("channel must be 1 to 256 bytes of UTF-8 with no control characters");
    }
    return channel;
  }

  #usersParam(users: unknown): string[] {
    if (!Array.isArray(users) || users.length === 0 || users.length > 1000) {
      throw new InvalidParamsError("users must be an array of 1 to 1000 user ids");
    }
    for (const u of users) {
      if (typeof u !== "string" || !isValidId(u, limits.idMaxBytes)) {
        throw new InvalidParamsError(
          "users: each must be 1 to 128 bytes of UTF-8 with no control characters",
        );
      }
    }
    return users as string[];
  }

  #allowChannel(channel: unknown): void {
    const allowed = this.#grant?.channels;
    if (allowed === undefined || typeof channel !== "string") return; // the dispatcher checks the type
    if (!allowed.has(channel))
      throw new ForbiddenError(`channel ${JSON.stringify(echo(channel))} is not in the token's channels`);
  }

  #allowUsers(users: unknown): void {
    const allowed = this.#grant?.watch;
    if (allowed === undefined || !Array.isArray(users)) return;
    for (const u of users) {
      if (typeof u === "string" && !allowed.has(u))
        throw new ForbiddenError(`user ${JSON.stringify(echo(u))} is not in the token's watch`);
    }
  }
}
