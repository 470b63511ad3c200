/**
 * Runs one owned partition.
 *
 * Start: claim the partition's checkpoint (compare-and-set, which fences the previous owner),
 * restore the newest snapshot, and replay the partition's commands after it — appending
 * nothing up to the checkpoint, since all of that was appended before. Then live: apply each
 * command-stream message, append what it produced with deterministic ids, and move the
 * checkpoint, again by compare-and-set: when another owner has claimed the partition the write
 * fails and this runner stops at once (it is fenced). Every `snapshotIntervalMs` and on a clean
 * stop the whole partition state is written to the object store with the sequence it covers.
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
import { DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { headers, nuid } from "@nats-io/nats-core";
import type { ObjectStore } from "@nats-io/obj";
import type { Logger } from "pino";
import { FencedError } from "./errors.js";
import { type Outgoing, Partition, type SavedPartition, SNAPSHOT_VERSION } from "./partition.js";

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
  /**
   * Called once when the runner stops on its own: fenced (another owner has the partition), or
   * a failure that left its state ahead of what is stored (it must start again from there).
   */
  onHalt(err: Error): void;
}

export interface RunnerDeps {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly checkpoints: KV;
  readonly snapshots: ObjectStore;
  readonly log: Logger;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const checkpointKey = (p: number): string => `p${p}`;
export const snapshotName = (p: number): string => `p${p}`;

export class PartitionRunner {
  state: Partition;
  /** Counters for logs and tests. */
  readonly stats = { appended: 0, replayed: 0, snapshots: 0, ticks: 0, restoredUsers: 0 };
  #replayTo = 0;
  /** Revision of our checkpoint key: the fencing token. */
  #revision = 0;
  #applied = 0;
  #snapshotSeq = 0;
  #snapshotAt = Date.now();
  /** The partition's last stored sequence when we started; caught up once applied. */
  #lastAtStart = 0;
  #caughtUp = false;
  #stopped = false;
  #halted = false;
  #tickInFlight = false;
  #chain: Promise<void> = Promise.resolve();
  #messages: { close(): Promise<unknown> } | undefined;
  #done: Promise<void> = Promise.resolve();
  #starting: Promise<void> = Promise.resolve();

  constructor(
    readonly id: number,
    private readonly config: Config,
    private readonly deps: RunnerDeps,
    private readonly opts: RunnerOptions,
  ) {
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

  /** Claims the partition, restores it and starts consuming; `stop()` may be called meanwhile. */
  start(): Promise<void> {
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const { js, jsm, log } = this.deps;
    await this.#claim();
    const snapshot = await this.#loadSnapshot();
    if (this.#stopped) return;
    if (snapshot !== undefined) {
      this.state = Partition.restore(snapshot.state, this.#partitionOptions());
      this.#applied = this.#snapshotSeq = snapshot.seq;
      this.#replayTo = Math.max(this.#replayTo, snapshot.seq);
      this.stats.restoredUsers = this.state.users.size;
    }
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
    const messages = await this.#retry("creating the consumer", async () => {
      const consumer = await js.consumers.get(streams.commands, {
        // Unique per run: a consumer left by an earlier run must not be picked up again.
        name_prefix: `${consumers.actor(this.id)}-${nuid.next()}`,
        filter_subjects: subject,
        ...(this.#applied > 0
          ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.#applied + 1 }
          : { deliver_policy: DeliverPolicy.All }),
      });
      return consumer.consume({ max_messages: 256 });
    });
    // close() resolves once the iteration below has ended, so the loop starts even when
    // stop() was called meanwhile; it ends at the first message or at close().
    this.#messages = messages;
    log.info(
      { replayTo: this.#replayTo, snapshotSeq: snapshot?.seq, users: this.state.users.size },
      "partition started",
    );
    this.#done = (async () => {
      for await (const m of messages) {
        if (this.#stopped) break;
        await this.#serial(() => this.#onMessage(m));
      }
    })();
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
    const bytes = await this.#retry("reading the snapshot", () =>
      this.deps.snapshots.getBlob(snapshotName(this.id)),
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

  /** Serializes work on the partition. */
  #serial(work: () => Promise<void>): Promise<void> {
    this.#chain = this.#chain.then(work).catch((err: unknown) => this.#halt(err as Error));
    return this.#chain;
  }

  /**
   * Stops after a failure: the state may hold a message whose outputs are not all stored, so
   * this runner must not go on (nor snapshot); a new one starts from the checkpoint.
   */
  #halt(err: Error): void {
    if (this.#halted) return;
    this.#halted = true;
    this.#stopped = true;
    if (err instanceof FencedError) this.deps.log.warn({ reason: err.message }, "fenced; stopping");
    else this.deps.log.error({ err }, "partition failed; stopping it");
    void this.#messages?.close().catch(() => undefined);
    this.opts.onHalt(err);
  }

  async #onMessage(m: JsMsg): Promise<void> {
    if (this.#stopped) return;
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
      if (batch.tick !== undefined) {
        this.state.advance(batch.tick, out);
        this.#tickInFlight = false;
      }
    }
    if (replaying) {
      this.stats.replayed++;
    } else {
      if (!this.opts.leaseValid()) throw new FencedError(this.id, "our lease ran out before it was renewed");
      if (batch !== undefined) {
        for (const r of batch.rejected) await this.#deadLetter(msgpack.encode(r.value), r.reason);
      }
      await this.#append(out);
      await this.#checkpoint(seq);
    }
    this.#applied = seq;
    this.#checkCaughtUp(m.info.pending);
    if (Date.now() - this.#snapshotAt >= this.opts.snapshotIntervalMs && !replaying) await this.#snapshot();
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

  async #append(out: readonly Outgoing[]): Promise<void> {
    if (out.length === 0) return;
    // In flight together, stored in the order sent; the ids make any retry harmless.
    for (let attempt = 1; ; attempt++) {
      try {
        await Promise.all(out.map((o) => this.deps.js.publish(o.subject, o.data, { msgID: o.msgId })));
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

  /** Writes the partition state with the sequence it covers (all of it stored and checkpointed). */
  async #snapshot(): Promise<void> {
    this.#snapshotAt = Date.now();
    if (this.#applied <= this.#snapshotSeq || this.#halted) return;
    const seq = this.#applied;
    const snap: Snapshot = { seq, state: this.state.save() };
    const bytes = msgpack.encode(snap);
    try {
      await this.deps.snapshots.putBlob({ name: snapshotName(this.id) }, bytes);
      this.#snapshotSeq = seq;
      this.stats.snapshots++;
      this.deps.log.debug({ seq, bytes: bytes.length, users: this.state.users.size }, "snapshot written");
    } catch (err) {
      this.deps.log.warn({ err }, "writing a snapshot failed; the next one will cover it");
    }
  }

  async #deadLetter(data: Uint8Array, reason: string): Promise<void> {
    this.deps.log.warn({ reason }, "dead-lettering a command");
    const h = headers();
    h.set(H.deadLetterReason, reason);
    await this.deps.js.publish(internalSubjects.deadLetter("presence-actor"), data, { headers: h });
  }

  /** Stops consuming, finishes the message in hand and, unless halted, writes a last snapshot. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#starting.catch(() => undefined);
    await this.#messages?.close().catch(() => undefined);
    await this.#done.catch(() => undefined);
    await this.#chain;
    await this.#snapshot();
  }
}
