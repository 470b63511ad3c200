/**
 * Runs one owned partition.
 *
 * Start: claim the partition's checkpoint (compare-and-set, which fences the previous owner),
 * restore the newest snapshot, and replay the partition's commands after it — appending
 * nothing up to the checkpoint, since all of that was appended before. Then live: apply the
 * command-stream messages as they come, and store what they produced in groups (a group
 * commit): every output of the messages applied so far is published with its deterministic id,
 * all in flight together, then the checkpoint moves to the last of them, again by
 * compare-and-set: when another owner has claimed the partition the write fails and this runner
 * stops at once (it is fenced). A crash between the two replays the group, and JetStream drops
 * the outputs already stored by their ids. Every `snapshotIntervalMs` and on a clean stop the
 * whole partition state is written to the object store with the sequence it covers.
 *
 * A consumer can go silent on nats-server 2.9 when the cluster node it lives on dies; a
 * watchdog compares the partition's last stored sequence with what was applied and, when
 * nothing moved for two checks, consumes again from the next sequence.
 *
 * Time: timers fire only when the stream says time has come — a command's stamp, or a tick the
 * owner appends (`tick()`) when a timer is due by its clock. So the stream alone decides every
 * output, and a replay after a crash produces exactly the same events with the same ids.
 */
import {
  type Config,
  consumers,
  decodeCommandBatch,
  encodeTick,
  headers as H,
  InvalidMessageError,
  internalSubjects,
  msgpack,
  streams,
} from "@herald/protocol";
import type { Publication, StreamPublisher } from "@herald/runtime";
import { DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { nuid } from "@nats-io/nats-core";
import type { ObjectStore } from "@nats-io/obj";
import type { Logger } from "pino";
import { FencedError } from "./errors.js";
import { type OutputMessage, Partition, type SavedPartition, SNAPSHOT_VERSION } from "./partition.js";

/** The value of a checkpoint key: who owns the partition, and how far its outputs are stored. */
export interface Checkpoint {
  readonly owner: string;
  /** The last command-stream sequence of this partition whose outputs are stored. */
  readonly seq: number;
}

/** A snapshot object: the partition state after applying every command up to `seq`. */
export interface Snapshot {
  readonly seq: number;
  readonly state: SavedPartition;
}

export interface RunnerOptions {
  readonly owner: string;
  readonly snapshotIntervalMs: number;
  /** Whether our lease is still valid by our own clock; checked before every append. */
  leaseValid(): boolean;
  /** Runs the reading and restoring of the snapshot (the process lets one partition at a time). */
  restoring?<T>(work: () => Promise<T>): Promise<T>;
  /**
   * Called once when the runner stops on its own: fenced (another owner has the partition), or
   * a failure that left its state ahead of what is stored (it must start again from there).
   */
  onHalt(err: Error): void;
}

export interface RunnerDeps {
  readonly js: JetStreamClient;
  /** Stores a group's outputs (one acknowledgement each, cheaply). */
  readonly publisher: StreamPublisher;
  readonly jsm: JetStreamManager;
  readonly checkpoints: KV;
  readonly snapshots: ObjectStore;
  readonly log: Logger;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Outputs held before the consumer loop waits for them to be stored (back-pressure). */
export const MAX_PENDING_OUTPUTS = 4096;
/** Publishes in flight at once while storing a group. */
const PUBLISH_WINDOW = 1024;
/** How often the watchdog looks for a silent consumer; two quiet checks restart it. */
export const STALL_CHECK_MS = 2000;
/** How long reading a snapshot may take before it is tried again. */
const SNAPSHOT_READ_TIMEOUT_MS = 60_000;

/** `work`, or a rejection after `ms`. */
function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** An output to store: an event or fact, or a dead letter (with its reason in a header). */
interface Append extends Publication {
  readonly msgId: string;
}
export const checkpointKey = (p: number): string => `p${p}`;
export const snapshotName = (p: number): string => `p${p}`;

export class PartitionRunner {
  state: Partition;
  /** Counters for logs and tests. */
  readonly stats = { appended: 0, replayed: 0, snapshots: 0, ticks: 0, restoredUsers: 0 };
  #replayTo = 0;
  /** Revision of our checkpoint key: the fencing token. */
  #revision = 0;
  /** The last sequence applied to `state`. */
  #applied = 0;
  /** The last sequence whose outputs are stored (and, when live, checkpointed). */
  #stored = 0;
  /** Outputs of the messages in (`#stored`, `#applied`], in order. */
  #pending: Append[] = [];
  #flushScheduled = false;
  #flushing = false;
  #storing: Promise<void> = Promise.resolve();
  #watchdog: NodeJS.Timeout | undefined;
  /** Messages the consumer delivered (the watchdog's sign of life). */
  #delivered = 0;
  /** A snapshot is being taken (the consumer loop waits for it). */
  #taking = false;
  #uploading: Promise<void> | undefined;
  /** The watchdog's check in progress (stop() waits for it: it may be creating a consumer). */
  #watching: Promise<void> = Promise.resolve();
  /** `#applied` at the last watchdog check, and how many checks in a row saw it stuck. */
  #watched = { delivered: 0, quiet: 0, busy: false };
  #snapshotSeq = 0;
  /** When the last snapshot was taken; set in the constructor (staggered by partition). */
  #snapshotAt: number;
  /** The partition's last stored sequence when we started; caught up once applied. */
  #lastAtStart = 0;
  #caughtUp = false;
  #stopped = false;
  #halted = false;
  #tickInFlight = false;
  #messages: { close(): Promise<unknown> } | undefined;
  #done: Promise<void> = Promise.resolve();
  #starting: Promise<void> = Promise.resolve();

  constructor(
    readonly id: number,
    private readonly config: Config,
    private readonly deps: RunnerDeps,
    private readonly opts: RunnerOptions,
  ) {
    // Partitions started together would all snapshot in the same instant, and a snapshot holds
    // the event loop while it is encoded: spread them evenly over the interval instead.
    this.#snapshotAt = Date.now() - (opts.snapshotIntervalMs * id) / config.partitions;
    this.state = new Partition(id, this.#partitionOptions());
  }

  #partitionOptions() {
    return { awayAfterMs: this.config.awayAfterMs, graceMs: this.config.graceMs };
  }

  /** True once every command stored when it started has been applied. */
  get caughtUp(): boolean {
    return this.#caughtUp;
  }

  /** True when it stopped on its own (fenced or failed). */
  get halted(): boolean {
    return this.#halted;
  }

  /** The last command-stream sequence applied. */
  get applied(): number {
    return this.#applied;
  }

  /** The last command-stream sequence whose outputs are stored. */
  get stored(): number {
    return this.#stored;
  }

  /** Claims the partition, restores it and starts consuming; `stop()` may be called meanwhile. */
  start(): Promise<void> {
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const { jsm, log } = this.deps;
    await this.#claim();
    // One partition of the process restores at a time: restoring is CPU-bound, and many large
    // snapshots read at once starve each other's reads of the event loop.
    const snapshot = await (this.opts.restoring ?? ((work) => work()))(async () => {
      if (this.#stopped) return undefined; // stopped while waiting for its turn
      const snap = await this.#loadSnapshot();
      if (snap !== undefined && !this.#stopped) {
        this.state = Partition.restore(snap.state, this.#partitionOptions());
        this.#applied = this.#stored = this.#snapshotSeq = snap.seq;
        this.#replayTo = Math.max(this.#replayTo, snap.seq);
        this.stats.restoredUsers = this.state.users.size;
      }
      return snap;
    });
    if (this.#stopped) return;
    const subject = internalSubjects.commands(this.id);
    const last = await jsm.streams.getMessage(streams.commands, { last_by_subj: subject });
    this.#lastAtStart = last?.seq ?? 0;
    const first = (await jsm.streams.info(streams.commands)).state.first_seq;
    if (first > this.#applied + 1 && this.#lastAtStart > this.#applied) {
      log.warn(
        { from: this.#applied + 1, first },
        "commands after the snapshot are no longer in the stream (older than it keeps); state may be incomplete",
      );
    }
    this.#checkCaughtUp(undefined);
    await this.#consume();
    log.info(
      { replayTo: this.#replayTo, snapshotSeq: snapshot?.seq, users: this.state.users.size },
      "partition started",
    );
    if (this.#stopped) return;
    this.#watchdog = setInterval(() => {
      this.#watching = this.#watch();
    }, STALL_CHECK_MS);
    this.#watchdog.unref();
  }

  /** Consumes the partition's commands from the one after the last applied. */
  async #consume(): Promise<void> {
    const messages = await this.#retry("creating the consumer", async () => {
      const consumer = await this.deps.js.consumers.get(streams.commands, {
        // Unique per run: a consumer left by an earlier run must not be picked up again.
        name_prefix: `${consumers.actor(this.id)}-${nuid.next()}`,
        filter_subjects: internalSubjects.commands(this.id),
        ...(this.#applied > 0
          ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.#applied + 1 }
          : { deliver_policy: DeliverPolicy.All }),
      });
      return consumer.consume({ max_messages: 256 });
    });
    // close() resolves once the iteration below has ended, so the loop starts even when
    // stop() was called meanwhile; it ends at the first message or at close().
    this.#messages = messages;
    this.#done = (async () => {
      try {
        for await (const m of messages) {
          this.#delivered++;
          if (this.#stopped) break;
          // A consumer started again by the watchdog may deliver what was applied.
          if (m.info.streamSequence <= this.#applied) continue;
          await this.#onMessage(m);
        }
      } catch (err) {
        this.#halt(err as Error);
      }
    })();
  }

  /**
   * The watchdog: when the partition has commands after the last applied and the consumer
   * delivered nothing since the previous check (twice in a row, while its loop was not waiting
   * for a group to be stored or a snapshot to be taken), the consumer is silent — on
   * nats-server 2.9 it can be lost with a cluster node — and is replaced by a new one starting
   * after the last applied command.
   */
  async #watch(): Promise<void> {
    const w = this.#watched;
    if (this.#stopped || w.busy) return;
    w.busy = true;
    try {
      const applied = this.#applied;
      const delivered = this.#delivered;
      const last = await this.deps.jsm.streams.getMessage(streams.commands, {
        last_by_subj: internalSubjects.commands(this.id),
      });
      const behind = (last?.seq ?? 0) > applied && applied === this.#applied;
      const busy = this.#flushing || this.#taking;
      w.quiet =
        behind && delivered === w.delivered && delivered === this.#delivered && !busy ? w.quiet + 1 : 0;
      w.delivered = delivered;
      if (w.quiet < 2 || this.#stopped) return;
      w.quiet = 0;
      this.deps.log.warn({ applied, last: last?.seq }, "the consumer is silent; consuming again");
      const old = this.#messages;
      await old?.close().catch(() => undefined);
      await this.#done.catch(() => undefined);
      if (!this.#stopped && this.#messages === old) {
        await this.#consume().catch((err: Error) => {
          if (!this.#stopped) this.#halt(err);
        });
      }
    } catch (err) {
      if (!this.#stopped) this.deps.log.debug({ err }, "watchdog check failed");
    } finally {
      w.busy = false;
    }
  }

  /**
   * Retries what creates a consumer on a timeout: on nats-server before 2.12 the server may
   * place a new ephemeral consumer on a cluster node that is down, and the request times out
   * (nats-server PR #7165); another attempt is placed again.
   */
  async #retry<T>(what: string, work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (err) {
        if (this.#stopped || attempt >= 5) throw err;
        this.deps.log.warn({ err, attempt }, `${what} failed; trying again`);
      }
    }
  }

  /** Takes the checkpoint key by compare-and-set: from now on the previous owner's writes fail. */
  async #claim(): Promise<void> {
    const { checkpoints } = this.deps;
    const entry = await checkpoints.get(checkpointKey(this.id));
    const had =
      entry?.operation === "PUT" ? (JSON.parse(decoder.decode(entry.value)) as Checkpoint) : undefined;
    this.#replayTo = had?.seq ?? 0;
    const value = this.#checkpointValue(this.#replayTo);
    try {
      this.#revision =
        entry === null
          ? await checkpoints.create(checkpointKey(this.id), value)
          : await checkpoints.update(checkpointKey(this.id), value, entry.revision);
    } catch (err) {
      throw new FencedError(this.id, `claiming the checkpoint failed: ${(err as Error).message}`);
    }
  }

  async #loadSnapshot(): Promise<Snapshot | undefined> {
    // A read that hangs (its consumer lost, or starved) is abandoned and tried again.
    const bytes = await this.#retry("reading the snapshot", () =>
      withTimeout(
        this.deps.snapshots.getBlob(snapshotName(this.id)),
        SNAPSHOT_READ_TIMEOUT_MS,
        "reading the snapshot",
      ),
    );
    if (bytes === null) return undefined;
    try {
      const snap = msgpack.decode(bytes) as Snapshot;
      if (snap.state?.v !== SNAPSHOT_VERSION || snap.state.partition !== this.id) {
        this.deps.log.warn({ v: snap.state?.v }, "ignoring a snapshot of another format; replaying instead");
        return undefined;
      }
      return snap;
    } catch (err) {
      this.deps.log.warn({ err }, "ignoring an unreadable snapshot; replaying instead");
      return undefined;
    }
  }

  /**
   * Stops after a failure: the state may hold a message whose outputs are not all stored, so
   * this runner must not go on (nor snapshot); a new one starts from the checkpoint.
   */
  #halt(err: Error): void {
    if (this.#halted) return;
    this.#halted = true;
    this.#stopped = true;
    clearInterval(this.#watchdog);
    if (err instanceof FencedError) this.deps.log.warn({ reason: err.message }, "fenced; stopping");
    else this.deps.log.error({ err }, "partition failed; stopping it");
    void this.#messages?.close().catch(() => undefined);
    this.opts.onHalt(err);
  }

  /**
   * Applies one message to the state and queues its outputs; stores them soon (a group of
   * everything applied by then), or at once when too much is pending or a snapshot is due.
   */
  async #onMessage(m: JsMsg): Promise<void> {
    const seq = m.info.streamSequence;
    const replaying = seq <= this.#replayTo;
    let batch: ReturnType<typeof decodeCommandBatch> | undefined;
    try {
      batch = decodeCommandBatch(m.data);
    } catch (err) {
      if (!(err instanceof InvalidMessageError)) throw err;
      if (!replaying) this.#pending.push(this.#deadLetter(m.data, err.message, seq, 0));
    }
    if (batch !== undefined) {
      const out: OutputMessage[] = replaying ? [] : this.#pending;
      for (const [i, cmd] of batch.cmds.entries()) this.state.apply(cmd, `${this.id}.${seq}.${i}`, out);
      if (batch.tick !== undefined) {
        this.state.advance(batch.tick, out);
        this.#tickInFlight = false;
      }
      if (!replaying) {
        for (const [i, r] of batch.rejected.entries())
          this.#pending.push(this.#deadLetter(msgpack.encode(r.value), r.reason, seq, i));
      }
    }
    if (replaying) this.stats.replayed++;
    this.#applied = seq;
    this.#checkCaughtUp(m.info.pending);
    const snapshotDue = !replaying && Date.now() - this.#snapshotAt >= this.opts.snapshotIntervalMs;
    if (this.#pending.length >= MAX_PENDING_OUTPUTS || snapshotDue) await this.#flush();
    else this.#scheduleFlush();
    // Everything applied is stored now, so the state is exactly what the checkpoint covers.
    if (snapshotDue && !this.#halted) await this.#snapshot();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // After the messages already delivered have been applied: they join this group.
    setImmediate(() => {
      this.#flushScheduled = false;
      void this.#flush();
    });
  }

  /** Stores the outputs of everything applied so far; resolves once they are stored. */
  #flush(): Promise<void> {
    this.#storing = this.#storing.then(() => this.#store()).catch((err: unknown) => this.#halt(err as Error));
    return this.#storing;
  }

  async #store(): Promise<void> {
    const seq = this.#applied;
    if (this.#halted || seq <= this.#stored) return;
    const out = this.#pending;
    this.#pending = [];
    // Replayed messages were stored by an earlier owner: nothing to append up to the checkpoint.
    if (seq > this.#replayTo) {
      this.#flushing = true;
      try {
        if (!this.opts.leaseValid())
          throw new FencedError(this.id, "our lease ran out before it was renewed");
        await this.#append(out);
        await this.#checkpoint(seq);
      } finally {
        this.#flushing = false;
      }
    }
    this.#stored = seq;
  }

  #checkCaughtUp(pending: number | undefined): void {
    if (this.#caughtUp || (pending !== 0 && this.#applied < this.#lastAtStart)) return;
    this.#caughtUp = true;
    this.deps.log.info(
      { users: this.state.users.size, seq: this.#applied, replayed: this.stats.replayed },
      "partition caught up",
    );
  }

  /**
   * Appends a tick when a timer is due by `now` (the wall clock), so it fires through the
   * stream; only once caught up, and one tick at a time.
   */
  async tick(now: number): Promise<void> {
    if (!this.#caughtUp || this.#stopped || this.#tickInFlight) return;
    const due = this.state.timers.peek();
    if (due === undefined || due > now) return;
    this.#tickInFlight = true;
    try {
      await this.deps.js.publish(internalSubjects.commands(this.id), encodeTick(now));
      this.stats.ticks++;
    } catch (err) {
      this.#tickInFlight = false;
      this.deps.log.warn({ err }, "appending a tick failed");
    }
  }

  /**
   * Publishes a group, up to `PUBLISH_WINDOW` in flight at once, stored in the order sent (one
   * connection); the ids make any retry harmless.
   */
  async #append(out: readonly Append[]): Promise<void> {
    if (out.length === 0) return;
    for (let attempt = 1; ; attempt++) {
      try {
        for (let i = 0; i < out.length; i += PUBLISH_WINDOW) {
          await this.deps.publisher.publishAll(out.slice(i, i + PUBLISH_WINDOW));
        }
        this.stats.appended += out.length;
        return;
      } catch (err) {
        if (this.#stopped || attempt >= 10) throw err;
        this.deps.log.warn({ err, attempt }, "appending events failed; retrying");
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * attempt)));
      }
    }
  }

  #checkpointValue(seq: number): Uint8Array {
    const value: Checkpoint = { owner: this.opts.owner, seq };
    return encoder.encode(JSON.stringify(value));
  }

  async #checkpoint(seq: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        this.#revision = await this.deps.checkpoints.update(
          checkpointKey(this.id),
          this.#checkpointValue(seq),
          this.#revision,
        );
        return;
      } catch (err) {
        const message = (err as Error).message;
        // A wrong last sequence: someone claimed the key after us (or our last attempt did
        // land and its reply was lost — stopping is then merely cautious). Anything else is the
        // cluster being unavailable for a moment (a node died, a leader is being elected): try
        // again while the lease holds, then give the partition up.
        if (/wrong last sequence/i.test(message) || attempt >= 10 || !this.opts.leaseValid()) {
          throw new FencedError(this.id, `moving the checkpoint failed: ${message}`);
        }
        this.deps.log.warn({ err, attempt }, "moving the checkpoint failed; trying again");
        await new Promise((r) => setTimeout(r, 250 * attempt));
      }
    }
  }

  /**
   * Takes the partition state with the sequence it covers (all of it stored and checkpointed)
   * and writes it to the object store. Taking it is done in steps, yielding to the other
   * partitions; this one's consumer loop waits meanwhile, so nothing changes it. The upload
   * goes on in the background (one at a time) unless `wait`.
   */
  async #snapshot(wait = false): Promise<void> {
    this.#snapshotAt = Date.now();
    // Only a state whose outputs are all stored: a new owner appends nothing before `seq`.
    const seq = this.#stored;
    if (seq !== this.#applied || seq <= this.#snapshotSeq || this.#halted || this.#uploading !== undefined)
      return;
    this.#taking = true;
    let state: SavedPartition;
    try {
      state = await this.state.saveInSteps(() => new Promise((r) => setImmediate(r)), 5000);
    } finally {
      this.#taking = false;
    }
    const bytes = msgpack.encode({ seq, state } satisfies Snapshot);
    const users = this.state.users.size;
    this.#uploading = (async () => {
      try {
        await this.deps.snapshots.putBlob({ name: snapshotName(this.id) }, bytes);
        this.#snapshotSeq = seq;
        this.stats.snapshots++;
        this.deps.log.debug({ seq, bytes: bytes.length, users }, "snapshot written");
      } catch (err) {
        this.deps.log.warn({ err }, "writing a snapshot failed; the next one will cover it");
      } finally {
        this.#uploading = undefined;
      }
    })();
    if (wait) await this.#uploading;
  }

  /** A dead letter for a command of message `seq`, with an id so a replay stores it once. */
  #deadLetter(data: Uint8Array, reason: string, seq: number, i: number): Append {
    this.deps.log.warn({ reason }, "dead-lettering a command");
    return {
      subject: internalSubjects.deadLetter("presence-actor"),
      data,
      msgId: `dl.${this.id}.${seq}.${i}`,
      headers: { [H.deadLetterReason]: reason },
    };
  }

  /** Stops consuming, finishes the message in hand and, unless halted, writes a last snapshot. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#watchdog);
    await this.#starting.catch(() => undefined);
    await this.#watching;
    await this.#messages?.close().catch(() => undefined);
    await this.#done.catch(() => undefined);
    await this.#flush();
    await this.#uploading;
    await this.#snapshot(true);
  }
}
