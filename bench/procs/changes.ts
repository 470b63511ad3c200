/**
 * `latency`: change latency, in one process so that sending and receiving share a clock:
 * users take turns to change — a live user disconnects its conn (offline at once with no grace), an
 * offline one heartbeats a new conn (online) — at a fixed rate, as plain publishes to the API.
 * Latency to the event: publish → its `status` event on `presence.events.user.*`. Latency to
 * the query: for one change in `sampleEvery`, `get_user_status` is asked again and again,
 * one request after another, until it shows the new status. When Herald falls behind, events
 * come late but in order per user, and the latencies include the queueing.
 */
import { subjects } from "@herald/protocol";
import { connect } from "@nats-io/transport-node";
import { serve } from "../lib/ipc.js";
import { sleep } from "../lib/stats.js";
import { userId } from "../lib/users.js";

interface Run {
  readonly url: string;
  readonly prefix: string;
  /** Users 0..users-1, each live with conn c0 at the start. */
  readonly users: number;
  /** Changes per second. */
  readonly rate: number;
  readonly sampleEvery: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly ttlMs: number;
}

interface Pending {
  readonly expect: "online" | "offline";
  readonly t0: number;
  readonly measured: boolean;
}

/** How long a change may take to show before it counts as missed. */
const GIVE_UP_MS = 30_000;
/** Sampled changes being polled at once at most; more are skipped (and counted). */
const MAX_POLLS = 20;

const handlers = {
  async run(p: Run) {
    const nc = await connect({ servers: p.url, name: "bench-changes" });
    const encoder = new TextEncoder();
    const conns = new Int32Array(p.users);
    const online = new Uint8Array(p.users).fill(1);
    /** Changes sent whose event has not come yet, per user, oldest first. */
    const pending = new Map<string, Pending[]>();
    const eventMs: number[] = [];
    const queryMs: number[] = [];
    let missedEvents = 0;
    let missedQueries = 0;
    let unexpected = 0;
    let skippedSamples = 0;

    nc.subscribe(subjects.allUserEvents, {
      callback: (_err, m) => {
        const t = performance.now();
        const ev = m.json<{ user: string; status: string }>();
        const queue = pending.get(ev.user);
        // A user's events come in the order of its changes; a change whose event is skipped
        // (never came) counts as missed.
        while (queue !== undefined && queue.length > 0) {
          const pend = queue.shift() as Pending;
          if (pend.expect === ev.status) {
            if (pend.measured) eventMs.push(t - pend.t0);
            return;
          }
          if (pend.measured) missedEvents++;
        }
        unexpected++;
      },
    });
    await nc.flush();

    const getStatus = subjects.method("get_user_status");
    const polls = new Set<Promise<void>>();
    const pollUntilVisible = async (user: string, expect: string, t0: number) => {
      const body = JSON.stringify({ users: [user] });
      for (;;) {
        const elapsed = performance.now() - t0;
        if (elapsed >= GIVE_UP_MS) break;
        // Back to back at first; later every tenth of the time waited (at most 50 ms), so a
        // lagging system is not flooded with polls.
        if (elapsed > 100) await sleep(Math.min(50, elapsed / 10));
        const m = await nc.request(getStatus, body, { timeout: GIVE_UP_MS }).catch(() => undefined);
        const status = m?.json<{ result?: { statuses: { status: string }[] } }>().result?.statuses[0]?.status;
        if (status === expect) {
          queryMs.push(performance.now() - t0);
          return;
        }
      }
      missedQueries++;
    };

    const start = performance.now();
    const end = start + p.warmupMs + p.durationMs;
    let sent = 0;
    let measuredSent = 0;
    while (performance.now() < end) {
      const due = Math.floor(((performance.now() - start) * p.rate) / 1000);
      while (sent < due) {
        const i = sent % p.users;
        const user = userId(p.prefix, i);
        const t0 = performance.now();
        const measured = t0 - start >= p.warmupMs;
        let expect: "online" | "offline";
        if (online[i] === 1) {
          nc.publish(
            subjects.method("disconnect"),
            encoder.encode(JSON.stringify({ user, conn: `c${conns[i]}` })),
          );
          online[i] = 0;
          expect = "offline";
        } else {
          conns[i] = (conns[i] as number) + 1;
          const body = { user, conn: `c${conns[i]}`, ttl_ms: p.ttlMs };
          nc.publish(subjects.method("heartbeat"), encoder.encode(JSON.stringify(body)));
          online[i] = 1;
          expect = "online";
        }
        const queue = pending.get(user);
        if (queue === undefined) pending.set(user, [{ expect, t0, measured }]);
        else queue.push({ expect, t0, measured });
        if (measured) {
          measuredSent++;
          if (measuredSent % p.sampleEvery === 0 && polls.size >= MAX_POLLS) skippedSamples++;
          else if (measuredSent % p.sampleEvery === 0) {
            const poll = pollUntilVisible(user, expect, t0);
            polls.add(poll);
            void poll.finally(() => polls.delete(poll));
          }
        }
        sent++;
      }
      await sleep(2);
    }
    const seconds = (performance.now() - start) / 1000;
    // Let the last changes arrive, then count what never did.
    const waitUntil = performance.now() + GIVE_UP_MS;
    const waiting = () => [...pending.values()].some((q) => q.some((x) => x.measured));
    while (waiting() && performance.now() < waitUntil) await sleep(20);
    await Promise.all(polls);
    for (const q of pending.values()) for (const x of q) if (x.measured) missedEvents++;
    await nc.close();
    return {
      sent,
      measuredSent,
      rate: Math.round(sent / seconds),
      eventMs,
      queryMs,
      missedEvents,
      // A sample skipped because too many polls were running would have waited at least as long.
      missedQueries: missedQueries + skippedSamples,
      unexpected,
      skippedSamples,
    };
  },
};

serve(handlers);
export type ChangesApi = typeof handlers;
