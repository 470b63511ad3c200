/**
 * Baseline of `heartbeats`, the seed design: one `SET presence:<user>:<conn> 1 EX <ttl>` per
 * heartbeat, pipelined, round robin over the same users. Several pipelines are in flight at
 * once so that redis-server is never idle waiting for the client.
 */
import { Redis } from "ioredis";
import { serve } from "../lib/ipc.js";
import { CONN, userId } from "../lib/users.js";

interface Setup {
  readonly port: number;
  readonly prefix: string;
  readonly users: number;
  readonly ttlMs: number;
  /** SETs per pipeline. */
  readonly pipeline: number;
  /** Pipelines in flight. */
  readonly inflight: number;
}

let redis: Redis | undefined;
let keys: string[] = [];
let setup: Setup | undefined;
let acked = 0;
let running = false;
let loops: Promise<void>[] = [];
let next = 0;

async function loop(r: Redis, s: Setup): Promise<void> {
  const ttl = String(Math.ceil(s.ttlMs / 1000));
  while (running) {
    const p = r.pipeline();
    for (let k = 0; k < s.pipeline; k++) {
      p.set(keys[next] as string, "1", "EX", ttl);
      next = (next + 1) % keys.length;
    }
    await p.exec();
    acked += s.pipeline;
  }
}

const handlers = {
  async setup(p: Setup) {
    setup = p;
    redis = new Redis({ port: p.port, host: "127.0.0.1" });
    keys = Array.from({ length: p.users }, (_, i) => `presence:${userId(p.prefix, i)}:${CONN}`);
    return {};
  },
  start() {
    if (redis === undefined || setup === undefined) throw new Error("setup first");
    running = true;
    const r = redis;
    const s = setup;
    loops = Array.from({ length: s.inflight }, () => loop(r, s));
    return {};
  },
  count() {
    return { acked };
  },
  async stop() {
    running = false;
    await Promise.all(loops);
    await redis?.flushall();
    return { acked };
  },
};

serve(handlers);
export type RedisHeartbeatsApi = typeof handlers;
