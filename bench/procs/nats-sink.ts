/**
 * Baseline subscriber of the core NATS pub→sub figure: counts the messages it receives on a
 * subject (the bench multiplies by the heartbeats per message). No parsing, as the transport
 * alone is being measured.
 */
import { connect } from "@nats-io/transport-node";
import { serve } from "../lib/ipc.js";

let messages = 0;

const handlers = {
  async setup(p: { url: string; subject: string }) {
    const nc = await connect({ servers: p.url, name: "bench-sink" });
    nc.subscribe(p.subject, {
      callback: () => {
        messages++;
      },
    });
    await nc.flush();
    return {};
  },
  count() {
    return { messages };
  },
};

serve(handlers);
export type SinkApi = typeof handlers;
