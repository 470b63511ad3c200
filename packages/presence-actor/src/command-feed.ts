/**
 * The consumer of one partition's commands and ticks (`herald.cmd.<n>.*`), from the message
 * after the last one applied, handing each to the runner in order. An ephemeral consumer with a
 * name unique per run, so one left by an earlier run is never picked up again.
 *
 * A consumer can go silent on nats-server 2.9 when the cluster node it lives on dies; a
 * watchdog compares the partition's last stored sequence with what was applied and, when
 * nothing was delivered for two checks while commands wait, consumes again from the next one.
 */
import { consumers, internalSubjects, streams } from "@herald/protocol";
import { retry, Watchdog } from "@herald/runtime";
import { DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { nuid } from "@nats-io/nats-core";
import type { Logger } from "pino";
import { tuning } from "./tuning.js";

export interface CommandFeedOptions {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly partition: number;
  readonly log: Logger;
  /** The last sequence applied: delivery starts after it, and anything up to it is skipped. */
  readonly applied: () => number;
  /** Applies one message (the next is delivered once it resolves). */
  readonly onMessage: (m: JsMsg) => Promise<void>;
  /** The runner is storing or snapshotting (it takes no message meanwhile: not a stall). */
  readonly busy: () => boolean;
  /** The feed failed for good: the runner must stop. */
  readonly onError: (err: Error) => void;
  /** Aborted when the runner stops. */
  readonly signal: AbortSignal;
}

/**
 * The last sequence stored for a partition (its commands or its ticks), 0 for none. Two look-ups
 * by literal subject: the server finds those in its per-subject index, where one by a wildcard
 * may scan the stream.
 */
export async function lastStored(jsm: JetStreamManager, partition: number): Promise<number> {
  const [cmd, tick] = await Promise.all(
    [internalSubjects.commands(partition), internalSubjects.ticks(partition)].map((subject) =>
      jsm.streams.getMessage(streams.commands, { last_by_subj: subject }),
    ),
  );
  return Math.max(cmd?.seq ?? 0, tick?.seq ?? 0);
}

export class CommandFeed {
  readonly #o: CommandFeedOptions;
  #messages: { close(): Promise<unknown> } | undefined;
  #done: Promise<void> = Promise.resolve();
  /** Messages delivered (the watchdog's sign of life). */
  #delivered = 0;
  #watchdog: Watchdog | undefined;

  constructor(opts: CommandFeedOptions) {
    this.#o = opts;
  }

  /** Starts consuming, and the watchdog. */
  async start(): Promise<void> {
    await this.#consume();
    if (this.#o.signal.aborted) return;
    const { jsm, partition, log } = this.#o;
    this.#watchdog = new Watchdog({
      intervalMs: tuning.stallCheckMs,
      log,
      probe: async () => {
        const applied = this.#o.applied();
        const received = this.#delivered;
        const last = await lastStored(jsm, partition);
        return {
          behind: last > applied && applied === this.#o.applied(),
          received: received === this.#delivered ? received : -1,
          busy: this.#o.busy(),
        };
      },
      onStall: async () => {
        log.warn({ applied: this.#o.applied() }, "the consumer is silent; consuming again");
        const old = this.#messages;
        await old?.close().catch(() => undefined);
        await this.#done.catch(() => undefined);
        if (!this.#o.signal.aborted && this.#messages === old) {
          await this.#consume().catch((err: Error) => {
            if (!this.#o.signal.aborted) this.#o.onError(err);
          });
        }
      },
    }).start();
  }

  async #consume(): Promise<void> {
    const { js, partition, signal } = this.#o;
    const messages = await retry(
      async () => {
        const applied = this.#o.applied();
        const consumer = await js.consumers.get(streams.commands, {
          name_prefix: `${consumers.actor(partition)}-${nuid.next()}`,
          filter_subjects: internalSubjects.partition(partition),
          ...(applied > 0
            ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: applied + 1 }
            : { deliver_policy: DeliverPolicy.All }),
        });
        return consumer.consume({ max_messages: tuning.consumerBatch });
      },
      // On nats-server before 2.12 a new ephemeral consumer may be placed on a cluster node
      // that is down, and the request times out (nats-server PR #7165); another try is placed again.
      {
        what: "creating the consumer",
        attempts: tuning.consumerAttempts,
        minDelayMs: 0,
        signal,
        log: this.#o.log,
      },
    );
    // close() resolves once the iteration below has ended, so the loop starts even when the
    // runner stopped meanwhile; it ends at the first message or at close().
    this.#messages = messages;
    this.#done = (async () => {
      try {
        for await (const m of messages) {
          this.#delivered++;
          if (signal.aborted) break;
          // A consumer started again by the watchdog may deliver what was applied.
          if (m.info.streamSequence <= this.#o.applied()) continue;
          await this.#o.onMessage(m);
        }
      } catch (err) {
        this.#o.onError(err as Error);
      }
    })();
  }

  /** Stops delivering; resolves once the message in hand is applied and the watchdog is done. */
  async stop(): Promise<void> {
    await this.#watchdog?.stop();
    await this.#messages?.close().catch(() => undefined);
    await this.#done.catch(() => undefined);
  }

  /** Stops delivering without waiting (the runner halted). */
  abort(): void {
    void this.#watchdog?.stop();
    void this.#messages?.close().catch(() => undefined);
  }
}
