/**
 * The reader of status-projector: bounded fetches from the durable consumer into a queue, the
 * next one while the last is being applied. Fetches rather than an endless consume, because a
 * fetch ends on the server's word (all delivered, or expired): a stopping projector waits for
 * that and so leaves nothing in flight to a subscription that is gone (which the server would
 * redeliver only after ack_wait, stalling the next projector on the durable). The queue is read
 * at once, so the client's heartbeat check of a fetch never waits on a slow batch.
 *
 * nats-server 2.9 quirk: a filtered consumer that lost its server (or was asked for its info)
 * while delivering can wait for the next stored fact before it delivers again. After a failed
 * fetch or write the reader is suspicious, and an empty fetch then stores a nudge (an empty
 * `herald.fact.nudge`, status-projector's own subject, skipped by every reader of facts).
 */
import { internalSubjects, streams } from "@herald/protocol";
import { backoffMs, isConsumerNotFound, type Logger, latch } from "@herald/runtime";
import type { Consumer, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { ensureConsumer } from "./consumer.js";
import { tuning } from "./tuning.js";

/** Fetched facts waiting to be applied, in stream order, and a signal whenever that changes. */
export class FactQueue {
  readonly items: JsMsg[] = [];
  #changed = latch();

  /** Resolves at the next change (or `poke`). */
  get changed(): Promise<void> {
    return this.#changed.promise;
  }

  poke(): void {
    const changed = this.#changed;
    this.#changed = latch();
    changed.resolve();
  }

  push(m: JsMsg): void {
    this.items.push(m);
    this.poke();
  }

  take(max: number): JsMsg[] {
    const batch = this.items.splice(0, max);
    this.poke();
    return batch;
  }
}

/**
 * Whether a failed fetch may mean the consumer is gone: the server said it was deleted (409) or
 * nobody answers its pull requests (503 no responders, 404).
 */
function mayBeGone(err: unknown): boolean {
  if (isConsumerNotFound(err)) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return code === 404 || code === 409 || code === 503;
}

export interface FactReaderOptions {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  /** The durable consumer's name. */
  readonly name: string;
  readonly consumer: Consumer;
  readonly queue: FactQueue;
  /** Resolves when the projector stops (cuts pauses short). */
  readonly stopped: Promise<void>;
  readonly isStopping: () => boolean;
  readonly log: Logger;
}

export class FactReader {
  readonly #o: FactReaderOptions;
  readonly #js: JetStreamClient;
  #consumer: Consumer;
  /** A fetch or write failed since facts last arrived: an empty fetch may be a stall. */
  #suspect = false;

  constructor(opts: FactReaderOptions) {
    this.#o = opts;
    this.#js = opts.jsm.jetstream();
    this.#consumer = opts.consumer;
  }

  /** A write failed: the next empty fetch may be a stall. */
  suspect(): void {
    this.#suspect = true;
  }

  /** Sleeps `ms`, or less when stopping. */
  async #pause(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#o.stopped, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  /** Fetches until the projector stops. */
  async run(): Promise<void> {
    const { queue, log } = this.#o;
    let failures = 0;
    while (!this.#o.isStopping() && !this.#o.nc.isClosed()) {
      const room = tuning.queueMax - queue.items.length;
      if (room < tuning.batchMax) {
        await queue.changed;
        continue;
      }
      try {
        // bind: no consumer info requests from the client while fetching (see #recreateIfGone).
        const messages = await this.#consumer.fetch({
          max_messages: room,
          expires: tuning.fetchExpiresMs,
          bind: true,
        });
        let received = 0;
        for await (const m of messages) {
          queue.push(m);
          received++;
        }
        log.trace({ asked: room, received }, "fetched");
        if (received === 0 && this.#suspect) await this.#nudge();
        if (received > 0) this.#suspect = false;
        failures = 0;
      } catch (err) {
        if (this.#o.isStopping()) break;
        failures++;
        this.#suspect = true;
        log.warn({ err, attempt: failures }, "fetching facts failed; retrying");
        if (mayBeGone(err)) await this.#recreateIfGone();
        await this.#pause(backoffMs(failures, tuning.retryMinMs, tuning.retryMaxMs));
      }
    }
  }

  /** Stores a nudge for a possibly stalled consumer; an idle one loses one skipped message. */
  async #nudge(): Promise<void> {
    this.#suspect = false;
    try {
      await this.#js.publish(internalSubjects.factNudge, new Uint8Array(0));
      this.#o.log.info("stored a nudge for a possibly stalled consumer");
    } catch (err) {
      this.#suspect = true;
      this.#o.log.warn({ err }, "storing a nudge failed");
    }
  }

  /**
   * Recreates the consumer when it was deleted (by an operator, or with its stream). Asked only
   * when a fetch says so: on nats-server 2.9.10 a consumer info request while the consumer is
   * delivering can stall it until the next fact is stored.
   */
  async #recreateIfGone(): Promise<void> {
    const { jsm, name, log } = this.#o;
    try {
      await jsm.consumers.info(streams.events, name);
    } catch (err) {
      if (!isConsumerNotFound(err)) return;
      try {
        this.#consumer = this.#js.consumers.getConsumerFromInfo(await ensureConsumer(jsm, name));
        log.warn("the consumer was gone; recreated it");
      } catch (createErr) {
        log.warn({ err: createErr }, "could not recreate the consumer");
      }
    }
  }
}
