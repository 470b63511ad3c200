/**
 * status-projector: folds the facts of the events stream into the KV projections
 * (`presence_status`, `presence_members`), idempotently. It owns those buckets.
 *
 * A reader pulls the durable consumer in bounded fetches into a queue; one loop takes the
 * queue in batches, in stream order: each batch is decoded (undecodable facts are
 * dead-lettered), coalesced per key by the pure core (project.ts), written by the KV writer
 * (never backwards, compare-and-set per key) and then acknowledged.
 * A batch that fails is retried; its facts stay unacknowledged until it succeeds, so none is
 * lost, and re-applying one changes nothing.
 */
import { buckets, consumers, headers as heraldHeaders, internalSubjects, streams } from "@herald/protocol";
import type { App, Logger, WorkerContext } from "@herald/runtime";
import {
  type Consumer,
  type ConsumerInfo,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JsMsg,
} from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { DEAD_LETTER_SOURCE, FACT_SEQ_HEADER, limits, SOURCE_SUBJECT_HEADER } from "./constants.js";
import { ensureConsumer } from "./consumer.js";
import { KvWriter } from "./kv-writer.js";
import { project, readFact, type SequencedFact } from "./project.js";

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
}

export interface ProjectorApp extends App {
  stats(): Readonly<ProjectorStats>;
}

export interface ProjectorOptions {
  /** Durable consumer name (default `consumers.projector`); another name replays every fact. */
  readonly consumer?: string;
}

export async function start(ctx: WorkerContext): Promise<App> {
  return startProjector(ctx);
}

/** {@link start} with options, for tests and tools. */
export async function startProjector(ctx: WorkerContext, opts: ProjectorOptions = {}): Promise<ProjectorApp> {
  const name = opts.consumer ?? consumers.projector;
  const log = ctx.log.child({ module: "projector", consumer: name });
  const info = await ensureConsumer(ctx.jsm, name);
  const writer = await KvWriter.open(ctx.jsm, [buckets.status, buckets.members], {
    casAttempts: limits.casAttempts,
    concurrency: limits.writeConcurrency,
    knownKeys: limits.knownKeys,
  });
  const projector = new Projector(ctx, info, writer, log);
  log.info(
    { stream: streams.events, filter: info.config.filter_subject, pending: info.num_pending },
    "status-projector started",
  );
  return { close: () => projector.close(), stats: () => ({ ...projector.stats }) };
}

interface Rejected {
  readonly msg: JsMsg;
  readonly reason: string;
}

/** A promise and the function that resolves it (Node 20 has no Promise.withResolvers). */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Whether a failed fetch may mean the consumer is gone: the server said it was deleted (409) or
 * nobody answers its pull requests (503 no responders, 404).
 */
function mayBeGone(err: unknown): boolean {
  if (err instanceof JetStreamApiError) return err.code === JetStreamApiCodes.ConsumerNotFound;
  const code = (err as { code?: unknown } | null)?.code;
  return code === 404 || code === 409 || code === 503;
}

const backoff = (attempt: number): number =>
  Math.min(limits.retryMaxMs, limits.retryMinMs * 2 ** Math.max(0, attempt - 1));

/** Header values are one line. */
const oneLine = (reason: string): string => reason.replace(/[\r\n]+/g, " ").slice(0, limits.reasonMaxChars);

class Projector {
  readonly stats: ProjectorStats = {
    batches: 0,
    facts: 0,
    applied: 0,
    skipped: 0,
    coalesced: 0,
    deadLettered: 0,
  };
  readonly #ctx: WorkerContext;
  readonly #js: JetStreamClient;
  readonly #name: string;
  #consumer: Consumer;
  readonly #writer: KvWriter;
  readonly #log: Logger;
  #stopping = false;
  /** A fetch or write failed since facts last arrived: an empty fetch may be a stall (see #nudge). */
  #suspect = false;
  /** Resolved when the projector stops, to cut pauses short. */
  readonly #stopped = signal();
  /** Fetched and not yet applied, in stream order. */
  readonly #queue: JsMsg[] = [];
  #reading = true;
  /** Resolved (and replaced) whenever the queue changes or the projector stops. */
  #changed = signal();
  readonly #done: Promise<void>;

  constructor(ctx: WorkerContext, info: ConsumerInfo, writer: KvWriter, log: Logger) {
    this.#ctx = ctx;
    this.#js = ctx.jsm.jetstream();
    this.#name = info.name;
    this.#consumer = this.#js.consumers.getConsumerFromInfo(info);
    this.#writer = writer;
    this.#log = log;
    // Neither loop throws by design; if one does (a bug), the projector stops rather than stall.
    const failed = (what: string) => (err: unknown) => {
      this.#log.error({ err }, `status-projector ${what} failed; stopping`);
      this.#stop();
    };
    this.#done = Promise.all([
      this.#read()
        .catch(failed("reader"))
        .finally(() => {
          this.#reading = false;
          this.#poke();
        }),
      this.#process().catch(failed("loop")),
    ]).then(() => {});
  }

  /**
   * Stops fetching, waits for the fetch in flight to end (at most one fetch expiry) and applies
   * what was fetched; when NATS keeps failing it gives that back instead.
   */
  async close(): Promise<void> {
    this.#stop();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), limits.closeTimeoutMs);
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
    this.#poke();
  }

  #poke(): void {
    const changed = this.#changed;
    this.#changed = signal();
    changed.resolve();
  }

  /** Sleeps `ms`, or less when stopping. */
  async #pause(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#stopped.promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  /**
   * The reader: bounded fetches into the queue, the next one while the last is being applied.
   * Fetches rather than an endless consume, because a fetch ends on the server's word (all
   * delivered, or expired): a stopping projector waits for that and so leaves nothing in
   * flight to a subscription that is gone (which the server would redeliver only after
   * ack_wait, stalling the next projector on the durable). The queue is read at once, so the
   * client's heartbeat check of a fetch never waits on a slow batch.
   */
  async #read(): Promise<void> {
    let failures = 0;
    while (!this.#stopping && !this.#ctx.nc.isClosed()) {
      const room = limits.queueMax - this.#queue.length;
      if (room < limits.batchMax) {
        await this.#changed.promise;
        continue;
      }
      try {
        // bind: no consumer info requests from the client while fetching (see #recreateIfGone).
        const messages = await this.#consumer.fetch({
          max_messages: room,
          expires: limits.fetchExpiresMs,
          bind: true,
        });
        let received = 0;
        for await (const m of messages) {
          this.#queue.push(m);
          received++;
          this.#poke();
        }
        this.#log.trace({ asked: room, received }, "fetched");
        if (received === 0 && this.#suspect) await this.#nudge();
        if (received > 0) this.#suspect = false;
        failures = 0;
      } catch (err) {
        if (this.#stopping) break;
        failures++;
        this.#suspect = true;
        this.#log.warn({ err, attempt: failures }, "fetching facts failed; retrying");
        if (mayBeGone(err)) await this.#recreateIfGone();
        await this.#pause(backoff(failures));
      }
    }
  }

  /**
   * After a failed fetch or write (the cluster was in trouble), an empty fetch may mean the consumer is stalled (nats-server 2.9; see
   * `internalSubjects.factNudge`) rather than idle: storing a nudge moves it on, and costs an
   * idle one nothing but one skipped message.
   */
  async #nudge(): Promise<void> {
    this.#suspect = false;
    try {
      await this.#js.publish(internalSubjects.factNudge, new Uint8Array(0));
      this.#log.info("stored a nudge for a possibly stalled consumer");
    } catch (err) {
      this.#suspect = true;
      this.#log.warn({ err }, "storing a nudge failed");
    }
  }

  /**
   * Recreates the consumer when it was deleted (by an operator, or with its stream). Asked only
   * when a fetch says so: on nats-server 2.9.10 a consumer info request while the consumer is
   * delivering can stall it until the next fact is stored.
   */
  async #recreateIfGone(): Promise<void> {
    try {
      await this.#ctx.jsm.consumers.info(streams.events, this.#name);
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) return;
      try {
        this.#consumer = this.#js.consumers.getConsumerFromInfo(
          await ensureConsumer(this.#ctx.jsm, this.#name),
        );
        this.#log.warn("the consumer was gone; recreated it");
      } catch (createErr) {
        this.#log.warn({ err: createErr }, "could not recreate the consumer");
      }
    }
  }

  /**
   * The one loop that applies facts, in stream order: whatever has arrived, up to `batchMax`,
   * one batch at a time. When stopping it applies what the last fetches brought, so nothing
   * is handed back in a normal stop.
   */
  async #process(): Promise<void> {
    for (;;) {
      if (this.#queue.length === 0) {
        if (this.#stopping && !this.#reading) return;
        await this.#changed.promise;
        // Let the reader queue everything already received before a batch is cut.
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      const batch = this.#queue.splice(0, limits.batchMax);
      this.#poke();
      if (!(await this.#apply(batch))) {
        // Stopping with NATS failing: hand everything back once no fetch can bring more.
        while (this.#reading) await this.#changed.promise;
        this.#settle(this.#queue.splice(0), "nak");
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
          this.#suspect = true;
          // Keep the batch from being redelivered while it is being retried.
          this.#settle(batch, "working");
          await this.#pause(backoff(attempt));
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
    const h = headers();
    h.set(heraldHeaders.deadLetterReason, oneLine(reason));
    h.set(FACT_SEQ_HEADER, String(msg.seq));
    h.set(SOURCE_SUBJECT_HEADER, msg.subject);
    await this.#js.publish(internalSubjects.deadLetter(DEAD_LETTER_SOURCE), msg.data, {
      headers: h,
      // A batch retried after a crash dead-letters the same fact once.
      msgID: `${DEAD_LETTER_SOURCE}:${streams.events}:${msg.seq}`,
    });
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
