/**
 * Runs one owned partition: rebuilds its state by replaying the partition's commands up to its
 * checkpoint without appending anything (all of it was appended before), then applies new
 * commands as they arrive, appends what they produce with deterministic ids, and records the
 * checkpoint (the last command-stream sequence whose output is stored). Timers fire in stamp
 * order while commands flow, and by the wall clock once the partition is caught up.
 */
import {
  type Config,
  consumers,
  decodeCommandBatch,
  headers as H,
  InvalidMessageError,
  internalSubjects,
  msgpack,
  streams,
} from "@herald/protocol";
import { DeliverPolicy, type JetStreamClient, type JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { headers, nuid } from "@nats-io/nats-core";
import type { Logger } from "pino";
import { type Outgoing, Partition } from "./partition.js";

export interface Checkpoint {
  /** The last command-stream sequence of this partition whose outputs are stored. */
  readonly seq: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const checkpointKey = (p: number): string => `p${p}`;

export class PartitionRunner {
  readonly state: Partition;
  #replayTo = 0;
  #caughtUp = false;
  #stopped = false;
  #chain: Promise<void> = Promise.resolve();
  #messages: { close(): Promise<unknown> } | undefined;
  #done: Promise<void> = Promise.resolve();

  constructor(
    readonly id: number,
    config: Config,
    private readonly js: JetStreamClient,
    private readonly checkpoints: KV,
    private readonly log: Logger,
  ) {
    this.state = new Partition(id, { awayAfterMs: config.awayAfterMs, graceMs: config.graceMs });
  }

  /** True once every command stored when it started has been applied. */
  get caughtUp(): boolean {
    return this.#caughtUp;
  }

  async start(): Promise<void> {
    const entry = await this.checkpoints.get(checkpointKey(this.id));
    this.#replayTo =
      entry?.operation === "PUT" ? (JSON.parse(decoder.decode(entry.value)) as Checkpoint).seq : 0;
    const consumer = await this.js.consumers.get(streams.commands, {
      // Unique per run: a consumer left by an earlier run must not be picked up again.
      name_prefix: `${consumers.actor(this.id)}-${nuid.next()}`,
      filter_subjects: internalSubjects.commands(this.id),
      deliver_policy: DeliverPolicy.All,
    });
    const messages = await consumer.consume({ max_messages: 256 });
    this.#messages = messages;
    this.log.info({ replayTo: this.#replayTo }, "partition started");
    this.#done = (async () => {
      for await (const m of messages) {
        if (this.#stopped) break;
        await this.#serial(() => this.#onMessage(m));
      }
    })();
  }

  /** Serializes work on the partition (messages and clock ticks). */
  #serial(work: () => Promise<void>): Promise<void> {
    this.#chain = this.#chain.then(work).catch((err: unknown) => {
      this.log.error({ err }, "partition work failed");
    });
    return this.#chain;
  }

  async #onMessage(m: JsMsg): Promise<void> {
    const seq = m.info.streamSequence;
    const replaying = seq <= this.#replayTo;
    const out: Outgoing[] = [];
    let batch: ReturnType<typeof decodeCommandBatch> | undefined;
    try {
      batch = decodeCommandBatch(m.data);
    } catch (err) {
      if (!(err instanceof InvalidMessageError)) throw err;
      if (!replaying) await this.#deadLetter(m.data, err.message);
    }
    if (batch !== undefined) {
      for (const [i, cmd] of batch.cmds.entries()) this.state.apply(cmd, `${this.id}.${seq}.${i}`, out);
      if (!replaying) {
        for (const r of batch.rejected) await this.#deadLetter(msgpack.encode(r.value), r.reason);
      }
    }
    if (!replaying) {
      await this.#append(out);
      await this.#checkpoint(seq);
    }
    if (m.info.pending === 0 && !this.#caughtUp) {
      this.#caughtUp = true;
      this.log.info({ users: this.state.users.size, seq }, "partition caught up");
    }
  }

  /** Fires timers due by the wall clock; only once caught up, so no stored command is skipped. */
  tick(now: number): Promise<void> {
    if (!this.#caughtUp || this.#stopped) return Promise.resolve();
    return this.#serial(async () => {
      const out: Outgoing[] = [];
      this.state.advance(now, out);
      await this.#append(out);
    });
  }

  async #append(out: readonly Outgoing[]): Promise<void> {
    if (out.length === 0) return;
    // In flight together, stored in the order sent; the ids make any retry harmless.
    for (let attempt = 1; ; attempt++) {
      try {
        await Promise.all(out.map((o) => this.js.publish(o.subject, o.data, { msgID: o.msgId })));
        return;
      } catch (err) {
        if (this.#stopped || attempt >= 10) throw err;
        this.log.warn({ err, attempt }, "appending events failed; retrying");
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * attempt)));
      }
    }
  }

  async #checkpoint(seq: number): Promise<void> {
    const value: Checkpoint = { seq };
    await this.checkpoints.put(checkpointKey(this.id), encoder.encode(JSON.stringify(value)));
  }

  async #deadLetter(data: Uint8Array, reason: string): Promise<void> {
    this.log.warn({ reason }, "dead-lettering a command");
    const h = headers();
    h.set(H.deadLetterReason, reason);
    await this.js.publish(internalSubjects.deadLetter("presence-actor"), data, { headers: h });
  }

  /** Stops consuming and finishes the message in hand. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#messages?.close().catch(() => undefined);
    await this.#done.catch(() => undefined);
    await this.#chain;
  }
}
