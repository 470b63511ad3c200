/**
 * Load generator: publishes heartbeat bodies (plain publishes, no reply) to a subject, round
 * robin over the users, as fast as its credit and an optional rate cap allow. The bench polls
 * what was applied and grants credit (`limit`: heartbeats it may have sent in total), which
 * keeps the backlog bounded; the rate cap serves the half-rate run of `queries`.
 */
import { connect } from "@nats-io/transport-node";
import { serve } from "../lib/ipc.js";
import { heartbeatBodies } from "../lib/users.js";

interface Setup {
  readonly url: string;
  readonly subject: string;
  readonly prefix: string;
  readonly users: number;
  /** Heartbeats per message (1, or up to 1000 in `{heartbeats: [...]}`). */
  readonly batch: number;
  readonly ttlMs: number;
}

/** Heartbeats published per event-loop turn at most, so IPC stays responsive. */
const TURN = 5000;

const encoder = new TextEncoder();
let nc: Awaited<ReturnType<typeof connect>> | undefined;
let subject = "";
let bodies: Uint8Array[] = [];
let sizes: number[] = [];
let next = 0;
let sent = 0;
let limit = 0;
let rate = 0;
let rateFrom = { t: 0, sent: 0 };
let running = false;
let scheduled = false;

function schedule(delayMs: number): void {
  if (scheduled || !running) return;
  scheduled = true;
  if (delayMs === 0) setImmediate(pump);
  else setTimeout(pump, delayMs);
}

function pump(): void {
  scheduled = false;
  if (!running || nc === undefined) return;
  let allowed = limit - sent;
  if (rate > 0) {
    const byRate = rateFrom.sent + (rate * (performance.now() - rateFrom.t)) / 1000 - sent;
    allowed = Math.min(allowed, byRate);
  }
  const turn = Math.min(allowed, TURN);
  let published = 0;
  while (published + (sizes[next] as number) <= turn) {
    nc.publish(subject, bodies[next] as Uint8Array);
    published += sizes[next] as number;
    next = (next + 1) % bodies.length;
  }
  sent += published;
  // More to send now: next turn at once; otherwise wait for credit or the rate.
  schedule(allowed - published >= (sizes[next] as number) ? 0 : 1);
}

const handlers = {
  async setup(p: Setup) {
    nc = await connect({ servers: p.url, name: "bench-heartbeats" });
    subject = p.subject;
    const strings = heartbeatBodies(p.prefix, p.users, p.batch, p.ttlMs);
    bodies = strings.map((s) => encoder.encode(s));
    sizes = strings.map((_, j) => Math.min(p.batch, p.users - j * p.batch));
    next = 0;
    sent = 0;
    limit = 0;
    return { messages: bodies.length };
  },
  /** Starts sending (within credit); `rate` caps heartbeats/s (0: no cap). */
  start(p: { rate?: number }) {
    running = true;
    handlers.rate({ rate: p.rate ?? 0 });
    return { sent };
  },
  rate(p: { rate: number }) {
    rate = p.rate;
    rateFrom = { t: performance.now(), sent };
    schedule(0);
    return { sent };
  },
  /** Grants credit up to `limit` heartbeats in total; returns how many were sent so far. */
  credit(p: { limit: number }) {
    limit = Math.max(limit, p.limit);
    schedule(0);
    return { sent };
  },
  async stop() {
    running = false;
    await nc?.flush();
    return { sent };
  },
};

serve(handlers);
export type HeartbeatsApi = typeof handlers;
