/**
 * `offline` collector: subscribes to every live status event and keeps, for each `offline`
 * one, the lag from its `at_ms` (the conn's deadline plus a grace of 0) to when it arrived here.
 */
import { subjects } from "@herald/protocol";
import { connect } from "@nats-io/transport-node";
import { serve } from "../lib/ipc.js";
import { nowMs } from "../lib/stats.js";

const lags: number[] = [];

const handlers = {
  async setup(p: { url: string }) {
    const nc = await connect({ servers: p.url, name: "bench-offline-events" });
    nc.subscribe(subjects.allUserEvents, {
      callback: (_err, m) => {
        const t = nowMs();
        const ev = m.json<{ status: string; at_ms: number }>();
        if (ev.status === "offline") lags.push(t - ev.at_ms);
      },
    });
    await nc.flush();
    return {};
  },
  count() {
    return { offline: lags.length };
  },
  lags() {
    return lags;
  },
};

serve(handlers);
export type OfflineEventsApi = typeof handlers;
