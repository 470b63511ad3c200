/**
 * Runs one owned partition: claims it (checkpoint.ts), restores its newest snapshot
 * (snapshots.ts), replays and then follows its commands and ticks (command-feed.ts), applies
 * each message to the partition (partition.ts), and stores what that produced in groups
 * (group-commit.ts). Every `snapshotIntervalMs` and on a clean stop the partition state is
 * snapshotted with the sequence it covers.
 *
 * Time: timers fire only when the stream says time has come — a command's stamp, or a tick the
 * owner appends (`tick()`) when a timer is due by its clock. So the stream alone decides every
 * output, and a replay after a crash produces exactly the same events with the same ids.
 */
import {
  type Command,
  type Config,
  decodeCommandBatch,
  encodeTick,
  InvalidMessageError,
  internalSubjects,
  msgpack,
  streams,
  type Verdict,
} from "@herald/protocol";
import { deadLetter, type StreamPublisher } from "@herald/runtime";
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import type { Logger } from "pino";
import { CheckpointFence } from "./checkpoint.js";
import { CommandFeed, lastStored } from "./command-feed.js";
import { FencedError } from "./errors.js";
import { GroupCommit } from "./group-commit.js";
import type { ActorMetrics } from "./metrics.js";
import { type Output, Partition, type PartitionOptions, type SavedPartition } from "./partition.js";
import { type Snapshot, SnapshotStore } from "./snapshots.js";
import { tuning } from "./tuning.js";
import type { Refusal } from "./user.js";

export type { Snapshot } from "./snapshots.js";

export interface RunnerOptions {
  readonly owner: string;
  readonly snapshotIntervalMs: number;
  /** Whether our lease is still valid by our own clock; checked before every append. */
  leaseValid(): boolean;
  /** Waits for a lease that ran out to be renewed in time (true) or lost (false; `Leases.regain`). */
  regainLease(signal: AbortSignal): Promise<boolean>;
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
  /** Sends a verdict to the gateway waiting for it (core NATS); none when absent. */
  readonly sendVerdict?: (gateway: string, verdict: Verdict) => void;
  /** The process's metrics (they outlive the runner). */
  readonly metrics?: ActorMetrics;
  readonly log: Logger;
}

const reply = (cmd: Command): string | undefined => ("reply" in cmd ? cmd.reply : undefined);

/**
 * `value` as msgpack for a dead letter, or `whole` (the message it came from) when it cannot be
 * encoded again (a value a hostile writer made, say with a BigInt).
 */
function encodeOr(value: unknown, whole: Uint8Array): Uint8Array {
  try {
    return msgpack.encode(value);
  } catch {
    return whole;
  }
}

/** The settings of a partition's users, from the configuration. */
export function partitionOptions(c: Config): PartitionOptions {
  return {
    awayAfterMs: c.awayAfterMs,
    graceMs: c.graceMs,
    maxConns: c.maxConnsPerUser,
    maxChannels: c.maxChannelsPerConn,
    retentionMs: c.offlineRetentionMs,
  };
}

export class PartitionRunner {
  partition: Partition;
  /** Counters for logs and tests. */
  readonly stats = { replayed: 0, ticks: 0, restoredUsers: 0, verdicts: 0, maxStepMs: 0, maxStepCpuMs: 0 };
  readonly #abort = new AbortController();
  readonly #fence: CheckpointFence;
  readonly #snapshots: SnapshotStore;
  readonly #group: GroupCommit;
  readonly #feed: CommandFeed;
  /** A snapshot is being taken (the consumer loop waits for it). */
  #taking = false;
  #snapshotSeq = 0;
  /** When the last snapshot was taken; set in the constructor (staggered by partition). */
  #snapshotAt: number;
  /** The partition's last stored sequence when we started; caught up once applied. */
  #lastAtStart = 0;
  /** Messages stored after the last one delivered, as its delivery said. */
  #pending: number | undefined;
  #caughtUp = false;
  #halted = false;
  #tickInFlight = false;
  #starting: Promise<void> = Promise.resolve();

  constructor(
    readonly id: number,
    private readonly config: Config,
    private readonly deps: RunnerDeps,
    private readonly opts: RunnerOptions,
  ) {
    // Partitions started together would all snapshot in the same instant, and a snapshot holds
    // the event loop while it is copied: spread them evenly over the interval instead.
    this.#snapshotAt = Date.now() - (opts.snapshotIntervalMs * id) / config.partitions;
    this.partition = new Partition(id, this.#partitionOptions());
    const signal = this.#abort.signal;
    this.#fence = new CheckpointFence(deps.checkpoints, id, opts.owner, () => opts.leaseValid(), deps.log);
    this.#snapshots = new SnapshotStore(deps.snapshots, id, deps.log);
    this.#group = new GroupCommit({
      partition: id,
      publisher: deps.publisher,
      fence: this.#fence,
      leaseValid: () => opts.leaseValid(),
      regainLease: () => opts.regainLease(signal),
      onFailure: (err) => this.#halt(err),
      stopping: () => signal.aborted,
      ...(deps.metrics !== undefined ? { stored: (out) => deps.metrics?.stored(out) } : {}),
      log: deps.log,
    });
    this.#feed = new CommandFeed({
      js: deps.js,
      jsm: deps.jsm,
      partition: id,
      log: deps.log,
      applied: () => this.#group.applied,
      onMessage: (m) => this.#onMessage(m),
      busy: () => this.#group.storing || this.#taking,
      onError: (err) => this.#halt(err),
      signal,
    });
  }

  #partitionOptions(): PartitionOptions {
    return partitionOptions(this.config);
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
    return this.#group.applied;
  }

  /** The last command-stream sequence whose outputs are stored. */
  get stored(): number {
    return this.#group.stored;
  }

  /** Outputs appended so far. */
  get appended(): number {
    return this.#group.appended;
  }

  /** Messages of the partition not applied yet: its consumer's lag. */
  get lag(): number {
    return this.#pending ?? Math.max(0, this.#lastAtStart - this.applied);
  }

  /** Snapshots written so far. */
  get snapshots(): number {
    return this.#snapshots.written;
  }

  /** Claims the partition, restores it and starts consuming; `stop()` may be called meanwhile. */
  start(): Promise<void> {
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const { jsm, log } = this.deps;
    const signal = this.#abort.signal;
    const replayTo = await this.#fence.claim();
    this.#group.reset(0, replayTo);
    // One partition of the process restores at a time: restoring is CPU-bound, and many large
    // snapshots read at once starve each other's reads of the event loop.
    const snapshot = await (this.opts.restoring ?? ((work) => work()))(async () => {
      if (signal.aborted) return undefined; // stopped while waiting for its turn
      const snap = await this.#snapshots.load(signal);
      if (snap !== undefined && !signal.aborted) {
        this.partition = Partition.restore(snap.state, this.#partitionOptions());
        this.#group.reset(snap.seq, replayTo);
        this.#snapshotSeq = snap.seq;
        this.stats.restoredUsers = this.partition.users.size;
      }
      return snap;
    });
    if (signal.aborted) return;
    this.#lastAtStart = await lastStored(jsm, this.id);
    const first = (await jsm.streams.info(streams.commands)).state.first_seq;
    if (first > this.applied + 1 && this.#lastAtStart > this.applied) {
      log.warn(
        { from: this.applied + 1, first },
        "commands after the snapshot are no longer in the stream (older than it keeps); state may be incomplete",
      );
    }
    this.#checkCaughtUp(undefined);
    await this.#feed.start();
    log.info({ replayTo, snapshotSeq: snapshot?.seq, users: this.partition.users.size }, "partition started");
  }

  /**
   * Stops after a failure: the state may hold a message whose outputs are not all stored, so
   * this runner must not go on (nor snapshot); a new one starts from the checkpoint.
   */
  #halt(err: Error): void {
    if (this.#halted) return;
    this.#halted = true;
    this.#abort.abort();
    this.#feed.abort();
    if (err instanceof FencedError) this.deps.log.warn({ reason: err.message }, "fenced; stopping");
    else this.deps.log.error({ err }, "partition failed; stopping it");
    this.opts.onHalt(err);
  }

  /**
   * Applies one message to the state and queues its outputs; stores them soon (a group of
   * everything applied by then), or at once when too much is pending or a snapshot is due.
   */
  async #onMessage(m: JsMsg): Promise<void> {
    const started = performance.now();
    const cpu = process.cpuUsage();
    this.#apply(m);
    // The longest the partition held the event loop for one message (its step), in time and
    // in the CPU the process spent meanwhile (which other processes on the machine do not add to).
    const ms = performance.now() - started;
    if (ms > this.stats.maxStepMs) this.stats.maxStepMs = ms;
    const used = process.cpuUsage(cpu);
    const cpuMs = (used.user + used.system) / 1000;
    if (cpuMs > this.stats.maxStepCpuMs) this.stats.maxStepCpuMs = cpuMs;
    const replaying = this.#group.replaying(m.info.streamSequence);
    this.deps.metrics?.step(ms / 1000, replaying);
    this.#pending = m.info.pending;
    this.#checkCaughtUp(m.info.pending);
    const snapshotDue = !replaying && Date.now() - this.#snapshotAt >= this.opts.snapshotIntervalMs;
    if (this.#group.pending >= tuning.maxPendingOutputs || snapshotDue) await this.#group.flush();
    else this.#group.schedule();
    // Everything applied is stored now, so the state is exactly what the checkpoint covers.
    if (snapshotDue && !this.#halted) await this.#snapshot();
  }

  /** Applies one message to the partition and hands its outputs to the group commit. */
  #apply(m: JsMsg): void {
    const seq = m.info.streamSequence;
    const replaying = this.#group.replaying(seq);
    const outputs: Output[] = [];
    const out: Output[] = replaying ? [] : outputs;
    const isTick = m.subject === internalSubjects.ticks(this.id);
    let batch: ReturnType<typeof decodeCommandBatch> | undefined;
    try {
      batch = decodeCommandBatch(m.data);
      if (isTick !== (batch.tick !== undefined && batch.cmds.length === 0 && batch.rejected.length === 0))
        throw new InvalidMessageError(
          isTick ? "a tick must carry tick_ms and no command" : "a command batch must not carry tick_ms",
        );
    } catch (err) {
      if (!(err instanceof InvalidMessageError)) throw err;
      batch = undefined;
      if (!replaying) outputs.push(this.#deadLetter(m, m.data, err.message));
    }
    // Nothing stamped beyond the time it was stored (and the clocks' allowed skew) is trusted:
    // far ahead it is dead-lettered, a little ahead it is taken as stamped at most a skew ahead.
    const storedAt = Math.floor(m.info.timestampNanos / 1e6);
    const latest = storedAt + tuning.maxClockAheadMs;
    const skewed = storedAt + tuning.clockSkewMs;
    if (batch !== undefined) {
      for (const [i, cmd] of batch.cmds.entries()) {
        if (cmd.at_ms > latest) {
          if (!replaying) {
            const reason = `cmds[${i}].at_ms: ${cmd.at_ms} is more than ${tuning.maxClockAheadMs} ms ahead of the time the command was stored`;
            outputs.push(this.#deadLetter(m, encodeOr(cmd, m.data), reason, `c${i}`));
          }
          continue;
        }
        let refusal: Refusal | undefined;
        try {
          const stamped = cmd.at_ms > skewed ? { ...cmd, at_ms: skewed } : cmd;
          refusal = this.partition.apply(stamped, `${this.id}.${seq}.${i}`, out);
        } catch (err) {
          // A command that cannot be applied is set aside; the partition goes on with the next.
          if (!replaying) {
            const reason = `cmds[${i}]: applying it failed: ${(err as Error).message}`;
            outputs.push(this.#deadLetter(m, encodeOr(cmd, m.data), reason, `c${i}`));
          }
          continue;
        }
        const to = reply(cmd);
        if (to !== undefined) this.#verdict(cmd, to, refusal);
      }
      if (batch.tick !== undefined) {
        if (batch.tick > latest) {
          if (!replaying) {
            const reason = `tick_ms: ${batch.tick} is more than ${tuning.maxClockAheadMs} ms ahead of the time the tick was stored`;
            outputs.push(this.#deadLetter(m, m.data, reason, "tick"));
          }
        } else {
          this.partition.advance(Math.min(batch.tick, skewed), out);
        }
        this.#tickInFlight = false;
      }
      if (!replaying) {
        for (const r of batch.rejected)
          outputs.push(this.#deadLetter(m, encodeOr(r.value, m.data), r.reason, `r${r.index}`));
      }
    }
    if (replaying) this.stats.replayed++;
    this.#group.add(seq, outputs);
  }

  /** Tells the gateway waiting on `cmd` whether it was applied (recent commands only). */
  #verdict(cmd: Command, to: string, refusal: Refusal | undefined): void {
    const send = this.deps.sendVerdict;
    if (send === undefined || cmd.at_ms < Date.now() - tuning.verdictMaxAgeMs) return;
    const dot = to.lastIndexOf(".");
    const verdict: Verdict = { id: Number(to.slice(dot + 1)) };
    if (refusal !== undefined) {
      verdict.code = refusal.code;
      verdict.message = refusal.message;
    }
    send(to.slice(0, dot), verdict);
    this.stats.verdicts++;
  }

  /** A dead letter for (part of) message `m`, with an id so a replay stores it once. */
  #deadLetter(m: JsMsg, data: Uint8Array, reason: string, part?: string): Output {
    this.deps.log.warn({ reason, seq: m.info.streamSequence }, "dead-lettering a command");
    const letter = deadLetter(
      {
        component: "presence-actor",
        stream: streams.commands,
        seq: m.info.streamSequence,
        subject: m.subject,
        ...(part !== undefined ? { part } : {}),
      },
      data,
      reason,
    );
    return { ...letter, kind: "dead_letter" };
  }

  #checkCaughtUp(pending: number | undefined): void {
    if (this.#caughtUp || (pending !== 0 && this.applied < this.#lastAtStart)) return;
    this.#caughtUp = true;
    this.deps.log.info(
      { users: this.partition.users.size, seq: this.applied, replayed: this.stats.replayed },
      "partition caught up",
    );
  }

  /**
   * Appends a tick when a timer is due by `now` (the wall clock), so it fires through the
   * stream; only once caught up, and one tick at a time.
   */
  async tick(now: number): Promise<void> {
    if (!this.#caughtUp || this.#abort.signal.aborted || this.#tickInFlight) return;
    const due = this.partition.timers.peek();
    if (due === undefined || due > now) return;
    this.#tickInFlight = true;
    try {
      await this.deps.js.publish(internalSubjects.ticks(this.id), encodeTick(now));
      this.stats.ticks++;
      this.deps.metrics?.ticked();
    } catch (err) {
      this.#tickInFlight = false;
      this.deps.log.warn({ err }, "appending a tick failed");
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
    const seq = this.stored;
    if (seq !== this.applied || seq <= this.#snapshotSeq || this.#halted || this.#snapshots.uploading) return;
    this.#taking = true;
    let state: SavedPartition;
    try {
      state = await this.partition.saveInSteps(
        () => new Promise((r) => setImmediate(r)),
        tuning.snapshotStep,
      );
    } finally {
      this.#taking = false;
    }
    const snapshot: Snapshot = { seq, state };
    const written = this.#snapshots.upload(snapshot, this.partition.users.size, () => {
      this.#snapshotSeq = seq;
    });
    if (wait) await written;
  }

  /** Stops consuming, finishes the message in hand and, unless halted, writes a last snapshot. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#starting.catch(() => undefined);
    await this.#feed.stop();
    await this.#group.flush();
    await this.#snapshots.idle();
    await this.#snapshot(true);
  }
}
