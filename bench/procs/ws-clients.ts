/**
 * Load generator of `websocket`: a share of the WebSocket clients (CONTRACT.md §8), whole
 * channels of them, so that a joiner and the subscribers of its channel are in this process and
 * share its clock. Each client is a distinct user with a distinct conn: it opens a socket,
 * sends `connect {token, conn}` (an HS256 token signed here), `join {channel}` and, if it is one
 * of its channel's subscribers, `subscribe {channel}`.
 *
 * Churn: clients leave their channel and join it again at a fixed rate (joins and leaves
 * alternating). For each join sent after the warm-up, the time from sending it to (a) its reply
 * (the owner's verdict), (b) the `join` push reaching the channel's observer — a subscriber that
 * never churns, the figure of the issue — and (c) the push reaching every subscriber of the
 * channel (each delivery a sample) is recorded; for each leave, the time to the observer's
 * `leave` push. A push that has not come when the churn stops (after a grace) counts as missed.
 */
import { SignJWT } from "jose";
import WebSocket from "ws";
import { serve } from "../lib/ipc.js";
import { sleep } from "../lib/stats.js";

export interface OpenParams {
  /** ws://host:port/connection/websocket */
  readonly url: string;
  readonly secret: string;
  readonly prefix: string;
  /** The channels (by number) whose members this process holds. */
  readonly channels: readonly number[];
  readonly channelSize: number;
  /** Members of each channel that subscribe to it (the first ones; the first is the observer). */
  readonly subscribers: number;
  /** Clients being opened at once. */
  readonly concurrency: number;
}

export interface OpenResult {
  readonly opened: number;
  readonly failed: number;
  readonly firstError?: string;
  readonly ms: number;
  /** Pushes received while opening (joins of the channels' later members). */
  readonly pushes: number;
}

export interface ChurnResult {
  /** Joins and leaves sent during the measured window (after the warm-up). */
  readonly joins: number;
  readonly leaves: number;
  readonly seconds: number;
  /** join sent → its `join` push at the channel's observer (ms). */
  readonly observerMs: number[];
  /** When each of those joins was sent (wall clock, ms), in the same order. */
  readonly observerAt: number[];
  readonly observerMissed: number;
  /** join sent → its `join` push at each subscriber of the channel (ms), one sample a delivery. */
  readonly allMs: number[];
  readonly allMissed: number;
  /** join sent → its reply (the owner's verdict). */
  readonly replyMs: number[];
  /** leave sent → its `leave` push at the observer. */
  readonly leaveMs: number[];
  readonly leaveMissed: number;
  /** Requests answered with an error, and the first of them. */
  readonly errors: number;
  readonly firstError?: string;
  /** Operations not sent because no client was free for them. */
  readonly skipped: number;
  /** Pushes received during the churn, in all. */
  readonly pushes: number;
  /** Sockets closed by the other side since they were opened. */
  readonly closedByServer: number;
  readonly closeCodes: Record<string, number>;
  /**
   * This process's own event-loop stalls of the window (a 5 ms timer at least `STALL_MS`
   * late): when each began (wall clock, ms) and how long it was.
   */
  readonly stalls: { at: number; ms: number }[];
}

/** A tick this much later than due is a stall of this process's event loop. */
const STALL_MS = 25;
const TICK_MS = 5;

interface Reply {
  readonly id?: number;
  readonly result?: Record<string, unknown>;
  readonly error?: { readonly code: number; readonly message: string };
  readonly push?: { readonly type: string; readonly channel: string; readonly user: string };
}

interface Channel {
  readonly name: string;
  readonly members: Client[];
  /** Subscribers of this channel (all in this process). */
  readonly subscribers: number;
}

/** A join or leave sent, waiting for its pushes. */
interface Pending {
  readonly t0: number;
  /** The same instant on the wall clock. */
  readonly at: number;
  /** Sent after the warm-up: its latencies are samples. */
  readonly measured: boolean;
  observed: boolean;
  deliveries: number;
  readonly expected: number;
}

let sockets = 0;
let pushes = 0;
let closedByServer = 0;
const closeCodes: Record<string, number> = {};
let clients: Client[] = [];
let channels: Channel[] = [];
/** Sent joins and leaves by user, until every subscriber got its push. */
const pendingJoins = new Map<string, Pending>();
const pendingLeaves = new Map<string, Pending>();
/** Samples of the churn, filled by the message handlers. */
let samples = {
  observerMs: [] as number[],
  observerAt: [] as number[],
  allMs: [] as number[],
  leaveMs: [] as number[],
};

class Client {
  ws: WebSocket | undefined;
  #next = 0;
  readonly #waiting = new Map<number, (r: Reply) => void>();
  joined = false;
  busy = false;
  #closing = false;

  constructor(
    readonly user: string,
    readonly conn: string,
    readonly channel: Channel,
    readonly subscriber: boolean,
    readonly observer: boolean,
  ) {}

  async open(url: string): Promise<void> {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 15_000 });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    ws.on("error", () => undefined);
    this.ws = ws;
    sockets++;
    ws.on("message", (data) => this.#onMessage(data as Buffer));
    ws.once("close", (code) => {
      sockets--;
      for (const w of this.#waiting.values()) w({ error: { code: 0, message: `socket closed (${code})` } });
      this.#waiting.clear();
      if (!this.#closing) {
        closedByServer++;
        closeCodes[code] = (closeCodes[code] ?? 0) + 1;
      }
    });
  }

  #onMessage(data: Buffer): void {
    const t = performance.now();
    const msg = JSON.parse(data.toString("utf8")) as Reply;
    const push = msg.push;
    if (push !== undefined) {
      pushes++;
      if (push.channel !== this.channel.name) return;
      const pending = push.type === "join" ? pendingJoins : push.type === "leave" ? pendingLeaves : undefined;
      const p = pending?.get(push.user);
      if (pending === undefined || p === undefined) return;
      const ms = t - p.t0;
      if (this.observer) {
        p.observed = true;
        if (p.measured && push.type === "join") {
          samples.observerMs.push(ms);
          samples.observerAt.push(p.at);
        } else if (p.measured) samples.leaveMs.push(ms);
      }
      if (p.measured && push.type === "join") samples.allMs.push(ms);
      if (++p.deliveries >= p.expected && p.observed) pending.delete(push.user);
      return;
    }
    if (msg.id !== undefined) {
      const w = this.#waiting.get(msg.id);
      this.#waiting.delete(msg.id);
      w?.(msg);
    }
  }

  /** Sends a request; resolves with its reply (an error reply, or a closed socket, included). */
  call(method: string, params: Record<string, unknown>): Promise<Reply> {
    const ws = this.ws;
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) {
      return Promise.resolve({ error: { code: 0, message: "socket not open" } });
    }
    const id = ++this.#next;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async ok(method: string, params: Record<string, unknown>): Promise<void> {
    const r = await this.call(method, params);
    if (r.error !== undefined) throw new Error(`${method}: ${r.error.code} ${r.error.message}`);
  }

  /** Drops the socket without a closing handshake (the server sees 1006). */
  terminate(): Promise<void> {
    const ws = this.ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    this.#closing = true;
    return new Promise((resolve) => {
      ws.once("close", () => resolve());
      ws.terminate();
    });
  }
}

const token = (secret: Uint8Array, user: string): Promise<string> => {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(user)
    .setIssuedAt(now)
    .setExpirationTime(now + 6 * 3600)
    .sign(secret);
};

let opening = { opened: 0, failed: 0 };

/** Runs `fn` over `items`, `concurrency` at a time. */
async function pool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

let churn:
  | {
      readonly timer: NodeJS.Timeout;
      readonly stop: () => void;
      readonly result: () => Omit<ChurnResult, "observerMissed" | "allMissed" | "leaveMissed">;
      readonly ended: Promise<void>;
    }
  | undefined;

const handlers = {
  /** Opens every client of the given channels: connect, join and (some) subscribe. */
  async open(p: OpenParams): Promise<OpenResult> {
    const secret = new TextEncoder().encode(p.secret);
    channels = p.channels.map((n) => ({
      name: `${p.prefix}room-${n}`,
      members: [],
      subscribers: p.subscribers,
    }));
    clients = [];
    for (const [ci, n] of p.channels.entries()) {
      const channel = channels[ci] as Channel;
      for (let k = 0; k < p.channelSize; k++) {
        const i = n * p.channelSize + k;
        const c = new Client(`${p.prefix}u${i}`, `${p.prefix}c${i}`, channel, k < p.subscribers, k === 0);
        channel.members.push(c);
        clients.push(c);
      }
    }
    opening = { opened: 0, failed: 0 };
    let firstError: string | undefined;
    const t0 = performance.now();
    // Channel by channel: each client joins, then subscribes, so the later members' joins are
    // pushed to the earlier ones (as a room filling up).
    await pool(clients, p.concurrency, async (c) => {
      try {
        await c.open(p.url);
        await c.ok("connect", { token: await token(secret, c.user), conn: c.conn });
        await c.ok("join", { channel: c.channel.name });
        c.joined = true;
        if (c.subscriber) await c.ok("subscribe", { channel: c.channel.name });
        opening.opened++;
      } catch (err) {
        opening.failed++;
        firstError ??= `${c.user}: ${(err as Error).message}`;
      }
    });
    return {
      ...opening,
      ms: performance.now() - t0,
      pushes,
      ...(firstError !== undefined ? { firstError } : {}),
    };
  },

  /** Clients opened (and failed) so far, sockets open now. */
  progress(): { opened: number; failed: number; sockets: number } {
    return { ...opening, sockets };
  },

  /** Starts leaving and joining: `rate` operations per second, measured after `warmupMs`. */
  startChurn(p: { rate: number; warmupMs: number }): void {
    if (churn !== undefined) throw new Error("already churning");
    samples = { observerMs: [], observerAt: [], allMs: [], leaveMs: [] };
    const replyMs: number[] = [];
    const out: Client[] = [];
    const candidates = clients.filter((c) => !c.observer && c.joined);
    const t0 = performance.now();
    const measureFrom = t0 + p.warmupMs;
    const basePushes = pushes;
    let issued = 0;
    let joins = 0;
    let leaves = 0;
    let skipped = 0;
    let errors = 0;
    let firstError: string | undefined;
    let windowStart: number | undefined;
    let pushesAtWindow = pushes;
    let stopped = false;
    const inflight = new Set<Promise<void>>();
    const track = (promise: Promise<void>) => {
      inflight.add(promise);
      void promise.finally(() => inflight.delete(promise));
    };
    const failed = (method: string, r: Reply) => {
      errors++;
      firstError ??= `${method}: ${r.error?.code} ${r.error?.message}`;
    };
    /** A join or leave sent now, waiting for its pushes. */
    const pending = (c: (typeof candidates)[number]): Pending => {
      const now = performance.now();
      const measured = now >= measureFrom;
      return {
        t0: now,
        at: performance.timeOrigin + now,
        measured,
        observed: false,
        deliveries: 0,
        expected: c.channel.subscribers,
      };
    };
    const leave = (): boolean => {
      // A few random tries for a free member; the pool is large, so one almost always does.
      for (let tries = 0; tries < 8; tries++) {
        const c = candidates[Math.floor(Math.random() * candidates.length)];
        if (c === undefined || !c.joined || c.busy) continue;
        const p = pending(c);
        if (p.measured) leaves++;
        c.busy = true;
        pendingLeaves.set(c.user, p);
        track(
          c.call("leave", { channel: c.channel.name }).then((r) => {
            c.busy = false;
            if (r.error !== undefined) {
              failed("leave", r);
              pendingLeaves.delete(c.user);
              return;
            }
            c.joined = false;
            out.push(c);
          }),
        );
        return true;
      }
      return false;
    };
    const join = (): boolean => {
      const c = out.shift();
      if (c === undefined) return false;
      const p = pending(c);
      if (p.measured) joins++;
      c.busy = true;
      pendingJoins.set(c.user, p);
      track(
        c.call("join", { channel: c.channel.name }).then((r) => {
          c.busy = false;
          if (r.error !== undefined) {
            failed("join", r);
            pendingJoins.delete(c.user);
            out.push(c);
            return;
          }
          c.joined = true;
          if (p.measured) replyMs.push(performance.now() - p.t0);
        }),
      );
      return true;
    };
    const stalls: { at: number; ms: number }[] = [];
    let lastTick = performance.now();
    const tick = () => {
      const now = performance.now();
      const late = now - lastTick - TICK_MS;
      if (late >= STALL_MS && windowStart !== undefined) {
        stalls.push({ at: performance.timeOrigin + lastTick + TICK_MS, ms: late });
      }
      lastTick = now;
      if (windowStart === undefined && now >= measureFrom) {
        windowStart = now;
        pushesAtWindow = pushes;
      }
      const due = Math.floor(((now - t0) / 1000) * p.rate);
      while (issued < due) {
        // Leaves and joins alternate; a client left rejoins at the next join.
        const sent = issued % 2 === 0 ? leave() : join();
        if (!sent) skipped++;
        issued++;
      }
    };
    const timer = setInterval(tick, TICK_MS);
    let end = 0;
    let endResolve: () => void = () => {};
    const ended = new Promise<void>((resolve) => {
      endResolve = resolve;
    });
    churn = {
      timer,
      ended,
      stop: () => {
        if (stopped) return;
        stopped = true;
        end = performance.now();
        clearInterval(timer);
        void Promise.all(inflight).then(() => endResolve());
      },
      result: () => ({
        joins,
        leaves,
        seconds: windowStart === undefined ? 0 : (end - windowStart) / 1000,
        observerMs: samples.observerMs,
        observerAt: samples.observerAt,
        allMs: samples.allMs,
        replyMs,
        leaveMs: samples.leaveMs,
        errors,
        ...(firstError !== undefined ? { firstError } : {}),
        skipped,
        pushes: pushes - (windowStart === undefined ? basePushes : pushesAtWindow),
        closedByServer,
        closeCodes,
        stalls,
      }),
    };
  },

  /**
   * Stops the churn, waits for the replies and up to `graceMs` for the pushes still due, and
   * returns the samples. Left clients join again (unmeasured), so the channels are full after.
   */
  async stopChurn(p: { graceMs: number }): Promise<ChurnResult> {
    const c = churn;
    if (c === undefined) throw new Error("not churning");
    c.stop();
    await c.ended;
    const deadline = performance.now() + p.graceMs;
    const waiting = () =>
      [...pendingJoins.values(), ...pendingLeaves.values()].some(
        (x) => x.measured && (!x.observed || x.deliveries < x.expected),
      );
    while (waiting() && performance.now() < deadline) await sleep(50);
    let observerMissed = 0;
    let allMissed = 0;
    let leaveMissed = 0;
    for (const x of pendingJoins.values()) {
      if (!x.measured) continue;
      if (!x.observed) observerMissed++;
      allMissed += Math.max(0, x.expected - x.deliveries);
    }
    for (const x of pendingLeaves.values()) if (x.measured && !x.observed) leaveMissed++;
    const result = { ...c.result(), observerMissed, allMissed, leaveMissed };
    pendingJoins.clear();
    pendingLeaves.clear();
    churn = undefined;
    // Members left out rejoin, so every channel is whole again.
    await pool(
      clients.filter((x) => !x.joined),
      20,
      async (x) => {
        const r = await x.call("join", { channel: x.channel.name });
        if (r.error === undefined) x.joined = true;
      },
    );
    return result;
  },

  /** Drops every socket without a closing handshake (1006: the conns are left to time out). */
  async terminate(): Promise<{ sockets: number }> {
    await Promise.all(clients.map((c) => c.terminate()));
    return { sockets };
  },
};

serve(handlers);
export type WsClientsApi = typeof handlers;
