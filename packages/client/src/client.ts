/**
 * The Herald client: one WebSocket to a gateway (CONTRACT.md §8), kept connected with
 * full-jitter backoff, its token refreshed before it expires, and the application's channels,
 * subscriptions and watches restored and diffed after every reconnect.
 *
 * A small state machine (disconnected → connecting → connected) around an injected WebSocket
 * constructor and the platform timers, so tests drive it with a fake socket and a simulated clock.
 */
import { type ChannelEvent, limits } from "@herald/contract";
import { backoffDelay } from "./backoff.js";
import { attachPage, hasPage } from "./browser.js";
import { Channel, type ChannelHost, PUSH, RESYNC } from "./channel.js";
import { Emitter } from "./emitter.js";
import { asClientError, ClientErrorCode, HeraldClientError } from "./errors.js";
import {
  type CloseEventLike,
  frameText,
  type MessageEventLike,
  OPEN,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./socket.js";
import { resyncStatuses, statusOfEvent } from "./statuses.js";
import { Throttle } from "./throttle.js";
import { REFRESH_MIN_AHEAD_MS, refreshDelayMs, tokenExpiryMs } from "./token.js";
import type {
  ClientState,
  ConnectInfo,
  IntervalEvent,
  StateChange,
  StatusEvent,
  UserStatus,
  WatchStatusEvent,
} from "./types.js";

export interface ReconnectOptions {
  /** Backoff base: the first retry waits up to this long. Default 500. */
  readonly minDelayMs?: number;
  /** Backoff cap. Default 20000. */
  readonly maxDelayMs?: number;
  /** A connection that stays up this long resets the backoff. Default 10000. */
  readonly stableAfterMs?: number;
}

export interface ClientOptions {
  /** The gateway's WebSocket URL, path included: `wss://herald.example.com/connection/websocket`. */
  readonly url: string;
  /**
   * Returns a JWT for this user (CONTRACT.md §8). Called to connect, to refresh before the
   * token's `exp`, and again after the server refused a token (4401). Resolving to `""` means
   * "this user may not connect": the client stops (state `disconnected`, reason `unauthorized`).
   */
  readonly getToken: () => Promise<string>;
  /** This conn's id (e.g. one per browser tab). Default: the server's, kept for reconnects. */
  readonly conn?: string;
  /** WebSocket constructor. Default `globalThis.WebSocket`; in Node 20 pass `WebSocket` from `ws`. */
  readonly WebSocket?: WebSocketConstructor;
  /** How long a request may wait for its reply, queued time included. Default 10000. */
  readonly requestTimeoutMs?: number;
  /** Page activity sends at most one `activity` per this many ms (leading edge). Default 5000. */
  readonly activityDebounceMs?: number;
  /** Send `activity` on pointer, keyboard and the tab becoming visible. Default: true in a page. */
  readonly trackActivity?: boolean;
  /** Close the socket (1000) on `pagehide`, reconnect on `pageshow` from the back/forward cache. Default: true in a page. */
  readonly closeOnPageHide?: boolean;
  readonly reconnect?: ReconnectOptions;
  /** Random source in [0, 1) for the backoff jitter (tests). Default `Math.random`. */
  readonly random?: () => number;
}

/** Events of a {@link HeraldClient}. */
export interface ClientEvents {
  /** Every change of `state`. */
  state: StateChange;
  /** Entered `connecting` (first connect, or a lost connection being retried). */
  connecting: StateChange;
  /** Entered `connected`: the server accepted `connect`. */
  connected: ConnectInfo;
  /** Entered `disconnected`: `close()`, `pagehide`, or a final refusal. */
  disconnected: StateChange;
  /** A watched user's status changed (pushed, or synthetic after a resync). */
  status: WatchStatusEvent;
  /** Something failed that no promise reports: a token fetch or refresh, a resync request, page activity, a bad frame. */
  error: HeraldClientError;
}

/** Options to `setStatus`. */
export interface SetStatusOptions {
  readonly text?: string;
  readonly emoji?: string;
  /** When the manual status clears by itself: a Date or unix milliseconds. */
  readonly expiresAt?: Date | number;
}

type Timer = ReturnType<typeof setTimeout>;

/** The longest delay setTimeout takes (2^31 − 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

interface Pending {
  /** Creation order: the queue is sent in this order. */
  readonly seq: number;
  /** The frame id once sent; 0 while queued. */
  id: number;
  readonly method: string;
  readonly params: object;
  readonly internal: boolean;
  /** Runs as the reply frame is read, before any later frame (a push right behind a snapshot). */
  readonly onResult: ((result: unknown) => void) | undefined;
  timer: Timer | undefined;
  resolve(result: unknown): void;
  reject(err: HeraldClientError): void;
}

interface RequestOptions {
  /** The client's own request: sent now on the current socket, never queued, failed on a drop. */
  readonly internal?: boolean;
  /** Default true: fail with `Timeout` after `requestTimeoutMs`. */
  readonly timed?: boolean;
  readonly onResult?: ((result: unknown) => void) | undefined;
}

type Frame = { id?: unknown; result?: unknown; error?: unknown; push?: unknown };

const noop = (): void => {};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class HeraldClient extends Emitter<ClientEvents> {
  readonly #url: string;
  readonly #getToken: () => Promise<string>;
  readonly #WebSocket: WebSocketConstructor;
  readonly #requestTimeoutMs: number;
  readonly #backoff: { minDelayMs: number; maxDelayMs: number };
  readonly #stableAfterMs: number;
  readonly #random: () => number;
  readonly #trackActivity: boolean | undefined;
  readonly #closeOnPageHide: boolean | undefined;
  readonly #throttle: Throttle;

  #state: ClientState = "disconnected";
  #ws: WebSocketLike | undefined;
  /** Bumped by every connection attempt and every stop: late callbacks of older ones do nothing. */
  #epoch = 0;
  /** connect() was called and close() was not since. */
  #active = false;
  /** Disconnected by pagehide; pageshow from the back/forward cache reconnects. */
  #suspended = false;
  /** Set when the client stopped for good: requests fail with it at once. */
  #stopError: HeraldClientError | undefined;
  #attempt = 0;
  #refreshAttempt = 0;
  #reconnectTimer: Timer | undefined;
  #attemptTimer: Timer | undefined;
  #refreshTimer: Timer | undefined;
  #stableTimer: Timer | undefined;
  #token: string | undefined;
  /** The server refused the token: get a fresh one before connecting. */
  #tokenStale = false;
  #conn: string | undefined;
  #info: ConnectInfo | undefined;
  #nextId = 1;
  #nextSeq = 1;
  readonly #inflight = new Map<number, Pending>();
  #queue: Pending[] = [];
  readonly #channels = new Map<string, Channel>();
  readonly #host: ChannelHost;
  /** Watched users and how many watch() calls hold each. */
  readonly #watchers = new Map<string, number>();
  readonly #statuses = new Map<string, UserStatus>();
  #detachPage: (() => void) | undefined;

  /** Use {@link createClient}. */
  constructor(opts: ClientOptions) {
    super();
    if (typeof opts.url !== "string" || opts.url === "")
      throw new TypeError("url: a WebSocket URL is required");
    if (typeof opts.getToken !== "function") throw new TypeError("getToken: a function is required");
    const WS = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WS === undefined) {
      throw new TypeError(
        "no global WebSocket: pass one as the WebSocket option (in Node, from the ws package)",
      );
    }
    this.#url = opts.url;
    this.#getToken = opts.getToken;
    this.#WebSocket = WS;
    this.#conn = opts.conn;
    this.#requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.#backoff = {
      minDelayMs: opts.reconnect?.minDelayMs ?? 500,
      maxDelayMs: opts.reconnect?.maxDelayMs ?? 20_000,
    };
    this.#stableAfterMs = opts.reconnect?.stableAfterMs ?? 10_000;
    this.#random = opts.random ?? Math.random;
    this.#trackActivity = opts.trackActivity;
    this.#closeOnPageHide = opts.closeOnPageHide;
    this.#throttle = new Throttle(opts.activityDebounceMs ?? 5_000);
    this.#host = {
      request: (method, params, onResult) => this.#request(method, params, { onResult }),
      internalRequest: (method, params, onResult) =>
        this.#request(method, params, { internal: true, timed: false, onResult }),
      reportError: (err) => this.emit("error", err),
      now: () => Date.now(),
    };
  }

  /** `disconnected`, `connecting` or `connected`. */
  get state(): ClientState {
    return this.#state;
  }

  /** The connected user (from the last `connect` result). */
  get user(): string | undefined {
    return this.#info?.user;
  }

  /** This conn's id: the `conn` option, or the server's once connected. Kept across reconnects. */
  get conn(): string | undefined {
    return this.#conn;
  }

  /** Statuses of the watched users, kept current (the same Map instance always). */
  get statuses(): ReadonlyMap<string, UserStatus> {
    return this.#statuses;
  }

  /** Starts connecting (and keeps reconnecting until `close()`). Does nothing while already started. */
  connect(): void {
    if (this.#active && !this.#suspended) return;
    this.#active = true;
    this.#suspended = false;
    this.#stopError = undefined;
    this.#attempt = 0;
    this.#attachPage();
    this.#setState("connecting", { reason: "connect" });
    void this.#open();
  }

  /**
   * Closes the connection (code 1000) and stops reconnecting; queued and unanswered requests
   * fail with `Closed`. Channels, subscriptions and watches are kept: a later `connect()`
   * restores them like a reconnect would.
   */
  close(): void {
    this.#stop(
      { reason: "client", code: 1000 },
      new HeraldClientError(ClientErrorCode.Closed, "client closed"),
    );
  }

  /** Resolves when connected (at once if it is); rejects if the client stops first. */
  ready(): Promise<ConnectInfo> {
    if (this.#state === "connected" && this.#info !== undefined) return Promise.resolve(this.#info);
    if (!this.#active) {
      return Promise.reject(
        this.#stopError ?? new HeraldClientError(ClientErrorCode.Closed, "not connecting: call connect()"),
      );
    }
    return new Promise((resolve, reject) => {
      const offs = [
        this.on("connected", (info) => {
          for (const off of offs) off();
          resolve(info);
        }),
        this.on("disconnected", (s) => {
          for (const off of offs) off();
          reject(
            this.#stopError ??
              new HeraldClientError(ClientErrorCode.Closed, `disconnected (${s.reason ?? "?"})`),
          );
        }),
      ];
    });
  }

  /** The channel named `name` (one object per name for the client's life). */
  channel(name: string): Channel {
    let ch = this.#channels.get(name);
    if (ch === undefined) {
      ch = new Channel(this.#host, name);
      this.#channels.set(name, ch);
    }
    return ch;
  }

  /**
   * Watches `users`' statuses: resolves with `statuses` holding them, then keeps them current
   * and emits `status`. Calls are counted per user; `unwatch` releases one call's hold. More than
   * 1000 users are sent in several requests.
   */
  async watch(users: readonly string[]): Promise<ReadonlyMap<string, UserStatus>> {
    const unique = [...new Set(users)];
    for (const u of unique) this.#watchers.set(u, (this.#watchers.get(u) ?? 0) + 1);
    try {
      for (const chunk of chunks(unique, limits.batchMax)) {
        await this.#request("watch", { users: chunk }, { onResult: (r) => this.#takeStatuses(r) });
      }
    } catch (err) {
      const gone = this.#release(unique);
      for (const chunk of chunks(gone, limits.batchMax))
        this.#request("unwatch", { users: chunk }).catch(noop);
      throw err;
    }
    return this.#statuses;
  }

  /** Releases one `watch` hold of each of `users`; those no longer held leave `statuses` at once. */
  async unwatch(users: readonly string[]): Promise<void> {
    const gone = this.#release([...new Set(users)]);
    for (const chunk of chunks(gone, limits.batchMax)) await this.#request("unwatch", { users: chunk });
  }

  /** The statuses of `users` now, in request order (one query; no watch). */
  async getUserStatus(users: readonly string[]): Promise<UserStatus[]> {
    const out: UserStatus[] = [];
    for (const chunk of chunks(users, limits.batchMax)) {
      const result = (await this.#request("get_user_status", { users: chunk })) as { statuses: UserStatus[] };
      out.push(...result.statuses);
    }
    return out;
  }

  /** Reports user activity now (`activity {}`); page activity waits a full window after it. */
  async activity(): Promise<void> {
    this.#throttle.mark(Date.now());
    await this.#request("activity", {});
  }

  /** Sets the manual status (`dnd`, `invisible`) or clears it (`auto`, with no options). */
  async setStatus(status: "dnd" | "invisible" | "auto", opts: SetStatusOptions = {}): Promise<void> {
    const params: Record<string, unknown> = { status };
    if (opts.text !== undefined) params.text = opts.text;
    if (opts.emoji !== undefined) params.emoji = opts.emoji;
    if (opts.expiresAt !== undefined) {
      params.expires_at_ms = opts.expiresAt instanceof Date ? opts.expiresAt.getTime() : opts.expiresAt;
    }
    await this.#request("set_status", params);
  }

  // ---- connection ----------------------------------------------------------------------------

  async #open(): Promise<void> {
    const epoch = ++this.#epoch;
    this.#reconnectTimer = undefined;
    let token: string;
    try {
      token = await this.#tokenForConnect();
    } catch (err) {
      if (epoch !== this.#epoch) return;
      const error = asClientError(err, ClientErrorCode.Token);
      this.emit("error", error);
      this.#retry({ reason: "token", code: error.code, message: error.message });
      return;
    }
    if (epoch !== this.#epoch) return;
    if (token === "") {
      const message = "getToken() returned no token";
      this.#stop({ reason: "unauthorized", code: 401, message }, new HeraldClientError(401, message));
      return;
    }
    let ws: WebSocketLike;
    try {
      ws = new this.#WebSocket(this.#url);
    } catch (err) {
      // A URL or a page the constructor refuses (SyntaxError, SecurityError) will not get better.
      const error = asClientError(err, ClientErrorCode.Protocol);
      this.emit("error", error);
      this.#stop({ reason: "transport", message: error.message }, error);
      return;
    }
    this.#ws = ws;
    this.#attemptTimer = setTimeout(() => {
      if (this.#ws !== ws) return;
      this.#drop("connect timeout");
      this.#retry({ reason: "timeout", message: `not connected within ${this.#requestTimeoutMs} ms` });
    }, this.#requestTimeoutMs);
    ws.onerror = noop;
    ws.onopen = () => {
      if (this.#ws === ws) this.#sendConnect(ws, token);
    };
    ws.onmessage = (ev: MessageEventLike) => {
      if (this.#ws === ws) this.#onFrame(ev.data);
    };
    ws.onclose = (ev: CloseEventLike) => {
      if (this.#ws === ws) this.#onClosed(ev.code, ev.reason);
    };
  }

  async #tokenForConnect(): Promise<string> {
    const cached = this.#token;
    if (cached !== undefined && !this.#tokenStale) {
      const exp = tokenExpiryMs(cached);
      if (exp === undefined || exp - Date.now() > REFRESH_MIN_AHEAD_MS) return cached;
    }
    const token = await this.#fetchToken();
    if (token !== "") {
      this.#token = token;
      this.#tokenStale = false;
    }
    return token;
  }

  async #fetchToken(): Promise<string> {
    let token: unknown;
    try {
      token = await this.#getToken();
    } catch (err) {
      throw new HeraldClientError(
        ClientErrorCode.Token,
        `getToken() failed: ${asClientError(err, 0).message}`,
      );
    }
    if (typeof token !== "string") {
      throw new HeraldClientError(
        ClientErrorCode.Token,
        "getToken() resolved to something other than a string",
      );
    }
    return token;
  }

  #sendConnect(ws: WebSocketLike, token: string): void {
    const params = this.#conn === undefined ? { token } : { token, conn: this.#conn };
    this.#request("connect", params, { internal: true, timed: false }).then(
      (result) => this.#onConnected(ws, result),
      (err: HeraldClientError) => this.#onConnectError(ws, err),
    );
  }

  #onConnected(ws: WebSocketLike, result: unknown): void {
    if (this.#ws !== ws) return;
    if (!isObject(result) || typeof result.user !== "string" || typeof result.conn !== "string") {
      this.emit(
        "error",
        new HeraldClientError(ClientErrorCode.Protocol, "connect result lacks user or conn"),
      );
      this.#drop("protocol error");
      this.#retry({ reason: "server", message: "bad connect result" });
      return;
    }
    clearTimeout(this.#attemptTimer);
    const info: ConnectInfo = { user: result.user, conn: result.conn, ttl_ms: Number(result.ttl_ms) };
    this.#info = info;
    this.#conn = info.conn;
    this.#refreshAttempt = 0;
    const prev = this.#state;
    this.#state = "connected";
    this.#stableTimer = setTimeout(() => {
      this.#attempt = 0;
    }, this.#stableAfterMs);
    this.#scheduleRefresh();
    // Resync first, then what waited: the server handles a socket's frames in order.
    this.#resync();
    this.#flush();
    this.#emitState(prev, {});
    this.emit("connected", info);
  }

  #onConnectError(ws: WebSocketLike, err: HeraldClientError): void {
    if (this.#ws !== ws) return; // the socket closed first: #onClosed handled it
    this.emit("error", err);
    const change = { reason: "server", code: err.code, message: err.message } as const;
    if (err.code === 400 || err.code === 403) {
      this.#stop(change, err);
      return;
    }
    this.#drop("connect refused");
    if (err.code === 401) {
      this.#tokenStale = true;
      this.#retry({ ...change, reason: "unauthorized" });
    } else {
      this.#retry(change);
    }
  }

  #onClosed(code: number, reason: string): void {
    this.#drop();
    if (code === 4401) this.#tokenStale = true;
    const message = reason === "" ? undefined : reason;
    this.#retry({ reason: code === 4401 ? "unauthorized" : "transport", code, message });
  }

  /**
   * Lets go of the current socket (closing it with 1000 when `closeReason` is given and it is
   * still open) and of its timers; unanswered requests go back to the queue, internal ones fail.
   */
  #drop(closeReason?: string): void {
    const ws = this.#ws;
    this.#ws = undefined;
    clearTimeout(this.#attemptTimer);
    clearTimeout(this.#refreshTimer);
    clearTimeout(this.#stableTimer);
    if (ws !== undefined) {
      ws.onopen = null;
      ws.onmessage = null;
      ws.onclose = null;
      ws.onerror = noop; // `ws` throws on an error event nobody listens to
      if (closeReason !== undefined) {
        try {
          ws.close(1000, closeReason);
        } catch {
          // already closing
        }
      }
    }
    const lost = [...this.#inflight.values()];
    this.#inflight.clear();
    for (const p of lost) {
      p.id = 0;
      if (p.internal) {
        clearTimeout(p.timer);
        p.reject(new HeraldClientError(ClientErrorCode.Disconnected, `${p.method}: connection lost`));
      } else {
        this.#queue.push(p);
      }
    }
    this.#queue.sort((a, b) => a.seq - b.seq);
  }

  /** Waits the backoff delay, then tries again (unless stopped or hidden). */
  #retry(change: Omit<StateChange, "state" | "prev">): void {
    if (!this.#active || this.#suspended) return;
    this.#setState("connecting", change);
    clearTimeout(this.#reconnectTimer);
    const delay = backoffDelay(this.#attempt++, this.#backoff, this.#random);
    this.#reconnectTimer = setTimeout(() => void this.#open(), delay);
  }

  /** Stops for good: no more reconnects; every waiting request fails with `error`. */
  #stop(change: Omit<StateChange, "state" | "prev">, error: HeraldClientError): void {
    this.#active = false;
    this.#suspended = false;
    this.#epoch++;
    clearTimeout(this.#reconnectTimer);
    this.#drop(change.reason);
    this.#detachPage?.();
    this.#detachPage = undefined;
    this.#stopError = error;
    const waiting = this.#queue;
    this.#queue = [];
    for (const p of waiting) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.#setState("disconnected", change);
  }

  #attachPage(): void {
    if (this.#detachPage !== undefined || !hasPage()) return;
    const track = this.#trackActivity ?? true;
    const hide = this.#closeOnPageHide ?? true;
    if (!track && !hide) return;
    this.#detachPage = attachPage({
      ...(track ? { activity: () => this.#pageActivity() } : {}),
      ...(hide ? { pageHide: () => this.#pageHide(), pageShow: () => this.#pageShow() } : {}),
    });
  }

  #pageActivity(): void {
    if (this.#state !== "connected" || !this.#throttle.take(Date.now())) return;
    this.#request("activity", {}).catch((err: HeraldClientError) => this.emit("error", err));
  }

  /** The page goes away (or into the back/forward cache): close now so the server disconnects the conn at once. */
  #pageHide(): void {
    if (!this.#active || this.#suspended) return;
    this.#suspended = true;
    this.#epoch++;
    clearTimeout(this.#reconnectTimer);
    this.#drop("pagehide");
    this.#setState("disconnected", { reason: "pagehide", code: 1000 });
  }

  #pageShow(): void {
    if (!this.#active || !this.#suspended) return;
    this.#suspended = false;
    this.#attempt = 0;
    this.#setState("connecting", { reason: "connect" });
    void this.#open();
  }

  #setState(next: ClientState, change: Omit<StateChange, "state" | "prev">): void {
    if (next === this.#state) return;
    const prev = this.#state;
    this.#state = next;
    this.#emitState(prev, change);
  }

  #emitState(prev: ClientState, change: Omit<StateChange, "state" | "prev">): void {
    const ev: StateChange = { state: this.#state, prev, ...change };
    this.emit("state", ev);
    if (ev.state === "connecting") this.emit("connecting", ev);
    else if (ev.state === "disconnected") this.emit("disconnected", ev);
  }

  // ---- token refresh -------------------------------------------------------------------------

  #scheduleRefresh(): void {
    const exp = this.#token === undefined ? undefined : tokenExpiryMs(this.#token);
    if (exp !== undefined) this.#armRefresh(refreshDelayMs(exp, Date.now()));
  }

  #armRefresh(delay: number): void {
    clearTimeout(this.#refreshTimer);
    const epoch = this.#epoch;
    this.#refreshTimer =
      delay > MAX_TIMER_MS
        ? setTimeout(() => this.#scheduleRefresh(), MAX_TIMER_MS)
        : setTimeout(() => void this.#refresh(epoch), delay);
  }

  async #refresh(epoch: number): Promise<void> {
    const fail = (err: HeraldClientError) => {
      if (epoch !== this.#epoch) return;
      this.emit("error", err);
      this.#armRefresh(backoffDelay(this.#refreshAttempt++, this.#backoff, this.#random));
    };
    let token: string;
    try {
      token = await this.#fetchToken();
    } catch (err) {
      fail(asClientError(err, ClientErrorCode.Token));
      return;
    }
    if (epoch !== this.#epoch || this.#state !== "connected") return;
    if (token === "") {
      const message = "getToken() returned no token";
      this.#stop({ reason: "unauthorized", code: 401, message }, new HeraldClientError(401, message));
      return;
    }
    const oldExp = this.#token === undefined ? undefined : tokenExpiryMs(this.#token);
    const newExp = tokenExpiryMs(token);
    if (oldExp !== undefined && (newExp === undefined || newExp <= oldExp)) {
      fail(
        new HeraldClientError(
          ClientErrorCode.Token,
          "getToken() returned a token that expires no later than the current one",
        ),
      );
      return;
    }
    try {
      await this.#request("refresh", { token }, { internal: true });
    } catch (err) {
      const error = asClientError(err, ClientErrorCode.Protocol);
      if (error.code !== ClientErrorCode.Disconnected) fail(error);
      return;
    }
    if (epoch !== this.#epoch) return;
    this.#token = token;
    this.#refreshAttempt = 0;
    this.#scheduleRefresh();
  }

  // ---- requests ------------------------------------------------------------------------------

  /**
   * Sends `method`. An application request waits in the queue while not connected and goes back
   * to it when the connection drops unanswered; an `internal` one is sent on the current socket
   * only. Either fails with `Timeout` after `requestTimeoutMs` (unless `timed` is false).
   */
  #request(method: string, params: object, opts: RequestOptions = {}): Promise<unknown> {
    const internal = opts.internal === true;
    if (!internal && this.#stopError !== undefined) return Promise.reject(this.#stopError);
    return new Promise((resolve, reject) => {
      const p: Pending = {
        seq: this.#nextSeq++,
        id: 0,
        method,
        params,
        internal,
        onResult: opts.onResult,
        timer: undefined,
        resolve,
        reject,
      };
      if (opts.timed !== false) p.timer = setTimeout(() => this.#expire(p), this.#requestTimeoutMs);
      if (internal || this.#state === "connected") this.#transmit(p);
      else this.#queue.push(p);
    });
  }

  #transmit(p: Pending): void {
    const ws = this.#ws;
    if (ws === undefined || ws.readyState !== OPEN) {
      if (p.internal) {
        clearTimeout(p.timer);
        p.reject(new HeraldClientError(ClientErrorCode.Disconnected, `${p.method}: not connected`));
      } else {
        this.#queue.push(p);
      }
      return;
    }
    p.id = this.#nextId++;
    this.#inflight.set(p.id, p);
    try {
      ws.send(JSON.stringify({ id: p.id, method: p.method, params: p.params }));
    } catch {
      // The socket is closing: its close event puts p back in the queue.
    }
  }

  #flush(): void {
    const waiting = this.#queue;
    this.#queue = [];
    for (const p of waiting) this.#transmit(p);
  }

  #expire(p: Pending): void {
    if (p.id !== 0) this.#inflight.delete(p.id);
    else this.#queue = this.#queue.filter((q) => q !== p);
    p.reject(
      new HeraldClientError(
        ClientErrorCode.Timeout,
        `${p.method}: no reply within ${this.#requestTimeoutMs} ms`,
      ),
    );
  }

  #onFrame(data: unknown): void {
    const text = frameText(data);
    let frame: unknown;
    try {
      frame = text === undefined ? undefined : JSON.parse(text);
    } catch {
      frame = undefined;
    }
    if (!isObject(frame)) {
      this.emit(
        "error",
        new HeraldClientError(ClientErrorCode.Protocol, "a frame that is not a JSON object"),
      );
      return;
    }
    const f = frame as Frame;
    if (typeof f.id === "number") {
      const p = this.#inflight.get(f.id);
      if (p === undefined) return; // timed out already
      this.#inflight.delete(f.id);
      clearTimeout(p.timer);
      if (isObject(f.error)) {
        const code = typeof f.error.code === "number" ? f.error.code : 500;
        p.reject(new HeraldClientError(code, `${p.method}: ${String(f.error.message ?? "error")}`));
        return;
      }
      const result = f.result ?? {};
      try {
        p.onResult?.(result);
      } catch {
        p.reject(new HeraldClientError(ClientErrorCode.Protocol, `${p.method}: unexpected result`));
        return;
      }
      p.resolve(result);
      return;
    }
    if (isObject(f.push) && typeof f.push.type === "string") {
      try {
        this.#onPush(f.push as unknown as StatusEvent | ChannelEvent | IntervalEvent);
      } catch {
        this.emit(
          "error",
          new HeraldClientError(ClientErrorCode.Protocol, `a malformed ${f.push.type} push`),
        );
      }
      return;
    }
    this.emit(
      "error",
      new HeraldClientError(ClientErrorCode.Protocol, "a frame that is neither a reply nor a push"),
    );
  }

  #onPush(ev: StatusEvent | ChannelEvent | IntervalEvent): void {
    if (ev.type === "status") {
      if (!this.#statuses.has(ev.user) || !this.#watchers.has(ev.user)) return;
      this.#statuses.set(ev.user, statusOfEvent(ev));
      this.emit("status", ev);
      return;
    }
    this.#channels.get(ev.channel)?.[PUSH](ev);
  }

  // ---- resync --------------------------------------------------------------------------------

  /** After (re)connecting: channels re-joined and re-subscribed, watches renewed, all diffed. */
  #resync(): void {
    for (const ch of this.#channels.values()) ch[RESYNC]();
    for (const chunk of chunks([...this.#statuses.keys()], limits.batchMax)) {
      this.#request(
        "watch",
        { users: chunk },
        { internal: true, timed: false, onResult: (r) => this.#takeStatuses(r) },
      ).catch((err: HeraldClientError) => {
        if (err.code === ClientErrorCode.Disconnected) return;
        this.emit("error", err);
        if (!err.fromServer) return;
        // Refused now (e.g. the new token no longer allows these users): drop them.
        for (const u of chunk) {
          this.#statuses.delete(u);
          this.#watchers.delete(u);
        }
      });
    }
  }

  /** Takes a `watch` result into `statuses`, emitting the differences for users already held. */
  #takeStatuses(result: unknown): void {
    const { statuses } = result as { statuses: UserStatus[] };
    const keep = (u: string) => this.#watchers.has(u);
    for (const ev of resyncStatuses(this.#statuses, statuses, keep, Date.now())) this.emit("status", ev);
  }

  /** Releases one hold of each user; returns those no longer held (removed from `statuses`). */
  #release(users: readonly string[]): string[] {
    const gone: string[] = [];
    for (const u of users) {
      const n = (this.#watchers.get(u) ?? 0) - 1;
      if (n > 0) {
        this.#watchers.set(u, n);
        continue;
      }
      if (this.#watchers.delete(u)) gone.push(u);
      this.#statuses.delete(u);
    }
    return gone;
  }
}

/** Creates a client; call `connect()` to start. */
export function createClient(opts: ClientOptions): HeraldClient {
  return new HeraldClient(opts);
}
