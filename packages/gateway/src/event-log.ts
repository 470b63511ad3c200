/**
 * The EventLog port over JetStream: one ordered consumer per scan, filtered to one subject of
 * the events stream, read until the caller has enough or the consumer has nothing pending; the
 * newest event of a subject by a last-by-subject get. Works on nats-server 2.9 (no direct
 * batch gets, which need 2.11).
 */
import { json, streams } from "@herald/protocol";
import type { Logger } from "@herald/runtime";
import type { JetStreamClient, JetStreamManager, OrderedConsumerOptions } from "@nats-io/jetstream";
import type { EventLog } from "./history.js";
import { tuning } from "./tuning.js";

export class JetStreamEventLog implements EventLog {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #log: Logger;

  constructor(js: JetStreamClient, jsm: JetStreamManager, log: Logger) {
    this.#js = js;
    this.#jsm = jsm;
    this.#log = log;
  }

  #decode(data: Uint8Array, subject: string): unknown {
    try {
      return json.decode(data);
    } catch (err) {
      this.#log.debug({ err, subject }, "skipping an event that is not JSON");
      return undefined;
    }
  }

  async scan(subject: string, fromMs: number | undefined, visit: (event: unknown) => boolean): Promise<void> {
    const opts: Partial<OrderedConsumerOptions> = { filter_subjects: subject };
    if (fromMs !== undefined) opts.opt_start_time = new Date(fromMs).toISOString();
    const consumer = await this.#js.consumers.get(streams.events, opts);
    try {
      let pending = (await consumer.info(true)).num_pending;
      while (pending > 0) {
        const messages = await consumer.fetch({
          max_messages: Math.min(pending, tuning.historyFetchBatch),
          expires: tuning.historyFetchExpiresMs,
        });
        let received = 0;
        for await (const m of messages) {
          received++;
          pending = m.info.pending;
          if (!visit(this.#decode(m.data, subject))) return;
          if (pending === 0) break;
        }
        // Pending messages that never came were removed meanwhile (age limit): nothing left.
        if (received === 0) return;
      }
    } finally {
      await consumer.delete().catch(() => {});
    }
  }

  async last(subject: string): Promise<unknown> {
    const m = await this.#jsm.streams.getMessage(streams.events, { last_by_subj: subject });
    return m === null ? undefined : this.#decode(m.data, subject);
  }
}
