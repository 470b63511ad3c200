/**
 * status-projector's loop: takes the fetched facts in batches, in stream order; each batch is
 * decoded (facts that cannot be used are dead-lettered), coalesced per key by the pure core
 * (project.ts), written by the KV writer (never backwards, compare-and-set per key) and then
 * acknowledged. A batch that fails is retried; its facts stay unacknowledged until it succeeds,
 * so none is lost, and re-applying one changes nothing.
 */
import { streams } from "@herald/protocol";
import { backoffMs, deadLetter, type Logger, latch, type WorkerContext } from "@herald/runtime";
import type { ConsumerInfo, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { FactQueue, FactReader } from "./fact-reader.js";
import type { KvWriter } from "./kv-writer.js";
import { project, readFact, type SequencedFact } from "./project.js";
import { tuning } from "./tuning.js";

/** Running totals since start. */
export interface ProjectorStats {
  /** Batches applied and acknowledged. */
  batches: number;
  /** Facts acknowledged (including dead-lettered ones). */
  facts: number;
  /** KV writes stored. */
  applied: number;
  /** KV writes skipped: the key already held the same or a later fact. */
  skipped: number;
  /** Facts replaced by a later fact for the same key in the same batch. */
  coalesced: number;
  /** Facts sent to the dead-letter stream. */
  deadLettered: number;
  /** Facts stored after the last one applied, as its delivery said: the consumer's lag. */
  pending: number;
}

interface Rejected {
  readonly msg: JsMsg;
  readonly reason: string;
}

export class Projector {
  readonly stats: ProjectorStats = {
    batches: 0,
    facts: 0,
    applied: 0,
    skipped: 0,
    coalesced: 0,
    deadLettered: 0,
    pending: 0,
  };
  readonly #js: JetStreamClient;
  readonly #writer: KvWriter;
  readonly #log: Logger;
  readonly #queue = new FactQueue();
  readonly #reader: FactReader;
  #stopping = false;
  #reading = true;
  /** Resolved when the projector stops, to cut pauses short. */
  readonly #stopped = latch();
  readonly #done: Promise<void>;

  constructor(ctx: WorkerContext, info: ConsumerInfo, writer: KvWriter, log: Logger) {
    this.#js = ctx.jsm.jetstream();
    this.#writer = writer;
    this.#log = log;
    this.#reader = new FactReader({
      nc: ctx.nc,
      jsm: ctx.jsm,
      name: info.name,
      consumer: this.#js.consumers.getConsumerFromInfo(info),
      queue: this.#queue,
      stopped: this.#stopped.promise,
      isStopping: () => this.#stopping,
      log,
    });
    // Neither loop throws by design; if one does (a bug), the process stops rather than idle.
    const failed = (what: string) => (err: unknown) => {
      this.#log.error({ err }, `status-projector ${what} failed; stopping`);
      this.#stop();
      ctx.fatal(err instanceof Error ? err : new Error(String(err)));
    };
    this.#done = Promise.all([
      this.#reader
        .run()
        .catch(failed("reader"))
        .finally(() => {
          this.#reading = false;
          this.#queue.poke();
        }),
      this.#process().catch(failed("loop")),
    ]).then(() => {});
  }

  /** Resolves when both loops have ended (stopped, or failed). */
  get done(): Promise<void> {
    return this.#done;
  }

  /**
   * Stops fetching, waits for the fetch in flight to end (at most one fetch expiry) and applies
   * what was fetched; when NATS keeps failing it gives that back instead.
   */
  async close(): Promise<void> {
    this.#stop();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), tuning.closeTimeoutMs);
    });
    const outcome = await Promise.race([this.#done, late]);
    clearTimeout(timer);
    if (outcome === "late")
      this.#log.warn("stopped before applying all it fetched; the rest is redelivered after ack_wait");
    else this.#log.info({ ...this.stats }, "status-projector stopped");
  }

  #stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#stopped.resolve();
    this.#queue.poke();
  }

  /** Sleeps `ms`, or less when stopping. */
  async #pause(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#stopped.promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  /**
   * The one loop that applies facts, in stream order: whatever has arrived, up to `batchMax`,
   * one batch at a time. When stopping it applies what the last fetches brought, so nothing
   * is handed back in a normal stop.
   */
  async #process(): Promise<void> {
    const queue = this.#queue;
    for (;;) {
      if (queue.items.length === 0) {
        if (this.#stopping && !this.#reading) return;
        await queue.changed;
        // Let the reader queue everything already received before a batch is cut.
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      const batch = queue.take(tuning.batchMax);
      if (!(await this.#apply(batch))) {
        // Stopping with NATS failing: hand everything back once no fetch can bring more.
        while (this.#reading) await queue.changed;
        this.#settle(queue.take(queue.items.length), "nak");
        return;
      }
    }
  }

  #decode(batch: readonly JsMsg[]): { facts: SequencedFact[]; rejected: Rejected[] } {
    const facts: SequencedFact[] = [];
    const rejected: Rejected[] = [];
    for (const msg of batch) {
      const read = readFact(msg.seq, msg.data, msg.subject);
      if (!read.ok) rejected.push({ msg, reason: read.reason });
      else if (read.fact !== undefined) facts.push(read.fact);
    }
    return { facts, rejected };
  }

  /**
   * Applies one batch and acks it, retrying until it succeeds; false when the projector stops
   * while it still fails (the batch is then handed back).
   */
  async #apply(batch: readonly JsMsg[]): Promise<boolean> {
    const { facts, rejected } = this.#decode(batch);
    const writes = project(facts);
    const sent = new Set<Rejected>();
    for (let attempt = 1; ; attempt++) {
      try {
        for (const r of rejected) {
          if (sent.has(r)) continue;
          await this.#deadLetter(r);
          sent.add(r);
        }
        const totals = await this.#writer.writeAll(writes);
        this.#settle(batch, "ack");
        const s = this.stats;
        s.batches++;
        s.facts += batch.length;
        s.applied += totals.applied;
        s.skipped += totals.skipped;
        s.coalesced += facts.length - writes.length;
        s.deadLettered += rejected.length;
        s.pending = batch.at(-1)?.info.pending ?? s.pending;
        this.#log.debug(
          {
            facts: batch.length,
            writes: writes.length,
            applied: totals.applied,
            skipped: totals.skipped,
            deadLettered: rejected.length,
            lastSeq: batch.at(-1)?.seq,
            totals: { ...s },
          },
          "batch applied",
        );
        return true;
      } catch (err) {
        if (!this.#stopping) {
          this.#log.warn({ err, attempt, facts: batch.length }, "applying a batch failed; retrying");
          this.#reader.suspect();
          // Keep the batch from being redelivered while it is being retried.
          this.#settle(batch, "working");
          await this.#pause(backoffMs(attempt, tuning.retryMinMs, tuning.retryMaxMs));
        }
        if (this.#stopping) {
          this.#log.warn({ err, facts: batch.length }, "stopping with a batch not applied; giving it back");
          this.#settle(batch, "nak");
          return false;
        }
      }
    }
  }

  async #deadLetter({ msg, reason }: Rejected): Promise<void> {
    const letter = deadLetter(
      { component: "status-projector", stream: streams.events, seq: msg.seq, subject: msg.subject },
      msg.data,
      reason,
    );
    const h = headers();
    for (const [k, v] of Object.entries(letter.headers ?? {})) h.set(k, v);
    // A batch retried after a crash dead-letters the same fact once (the id is its sequence).
    await this.#js.publish(letter.subject, letter.data, { headers: h, msgID: letter.msgId });
    this.#log.warn({ seq: msg.seq, subject: msg.subject, reason }, "dead-lettered a fact");
  }

  /** Acks (or naks, or extends) messages; a closed connection makes this a no-op. */
  #settle(batch: readonly JsMsg[], how: "ack" | "nak" | "working"): void {
    try {
      for (const m of batch) m[how]();
    } catch (err) {
      this.#log.warn({ err, how, facts: batch.length }, "could not settle messages");
    }
  }
}
