/**
 * Baseline of `memory`, the naive design: one running xstate actor per user (Herald's own
 * presence machine), each sent a CONNECT and a JOIN, as a per-user-actor service would hold
 * them. Heap and RSS per user after a GC, minus the process before; run with --expose-gc.
 */
import { presenceMachine } from "@herald/presence-actor";
import { createActor } from "xstate";
import { serve } from "../lib/ipc.js";
import { CONN, channelOf, userId } from "../lib/users.js";

const gc = (globalThis as { gc?: () => void }).gc;

const handlers = {
  run(p: { users: number }) {
    if (gc === undefined) throw new Error("run with --expose-gc");
    gc();
    const before = process.memoryUsage();
    const actors = [];
    const at = Date.now();
    for (let i = 0; i < p.users; i++) {
      const actor = createActor(presenceMachine, {
        input: { user: userId("naive-", i), settings: { awayAfterMs: 300_000, graceMs: 5000 } },
      }).start();
      actor.send({ type: "HEARTBEAT", conn: CONN, ttl: 30_000, at });
      actor.send({ type: "JOIN", conn: CONN, channel: channelOf(i), data: {}, ttl: 30_000, at });
      actors.push(actor);
    }
    gc();
    const after = process.memoryUsage();
    const live = actors.filter((a) => a.getSnapshot().matches({ status: "online" })).length;
    for (const a of actors) a.stop();
    return {
      users: p.users,
      online: live,
      heapPerUser: (after.heapUsed - before.heapUsed) / p.users,
      rssPerUser: (after.rss - before.rss) / p.users,
    };
  },
};

serve(handlers);
export type XstateActorsApi = typeof handlers;
