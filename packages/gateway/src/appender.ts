/**
 * The batching appender: stamped commands go to the command stream as one message per
 * partition per flush, not one per command (DESIGN.md: a JetStream publish awaiting its ack
 * runs at 11–20k/s, 500 commands per message reach millions per second).
 *
 * Each partition has a lane: an open batch that fills up, sealed batches waiting, and at most
 * one batch being published. A lane publishes its batches one after another, so a retried
 * publish can never overtake a later one and a user's commands stay in stream order; the lanes
 * publish in parallel. A batch is sent when it is full (`maxBatchCommands`), on the next tick
 * (setImmediate) or as soon as the lane's previous publish is acknowledged, whichever is first.
 *
 * `append` resolves once every batch holding one of its commands is acknowledged, so an
 * acknowledged request is durable. It throws OverloadedError (nothing appended) when more than
 * `maxPendingBatches` batches wait for JetStream, and its promise rejects with
 * AppendFailedError when a batch is not acknowledged.
 */
import { type Command, partitionOf, utf8Length } from "@herald/protocol";
import { AppendFailedError, OverloadedError, StoppingError } from "./errors.js";
import { tuning } from "./tuning.js";

/**
 * Publishes one batch of one partition with the given de-duplication id; resolves when
 * JetStream acknowledged it (stored, or a duplicate of a stored one), rejects otherwise.
 */
export type PublishBatch = (partition: number, cmds: readonly Command[], msgId: string) => Promise<void>;

export interface AppenderOptions {
  readonly partitions: number;
  readonly publish: PublishBatch;
  /** Commands per batch before it is sent at once (default 500). */
  readonly maxBatchCommands?: number;
  /**
   * Approximate encoded bytes per batch before it is sent at once (default 256 KiB): a batch
   * stays well within the server's max_payload whatever its commands carry, so a valid command
   * never fails for its neighbours' size.
   */
  readonly maxBatchBytes?: number;
  /** Sealed or in-flight batches beyond which `append` answers 503 (default 256). */
  readonly maxPendingBatches?: number;
  /** Prefix of the message ids, unique per process (`<prefix>-<counter>`). */
  readonly idPrefix: string;
  /** Runs `fn` on the next tick (default setImmediate); tests pass their own. */
  readonly schedule?: (fn: () => void) => void;
}

export interface AppenderStats {
  /** Commands in acknowledged batches. */
  readonly appended_commands: number;
  readonly appended_batches: number;
  /** Batches JetStream did not acknowledge. */
  readonly failed_batches: number;
  /** Batches sealed or in flight, not yet acknowledged. */
  readonly pending_batches: number;
  /** Requests refused because too many batches were pending. */
  readonly overloaded: number;
}

interface Batch {
  readonly cmds: Command[];
  /** Approximate encoded size of `cmds`. */
  bytes: number;
  readonly done: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

interface Lane {
  readonly partition: number;
  /** Filling; sent on the next tick or when full. */
  open: Batch | undefined;
  /** Full batches waiting for the one in flight. */
  readonly sealed: Batch[];
  sending: boolean;
}

/** About the bytes a command takes in an encoded batch (its strings, its data, some framing). */
function approxSize(cmd: Command): number {
  let n = 48 + utf8Length(cmd.user);
  if ("conn" in cmd) n += utf8Length(cmd.conn);
  if ("channel" in cmd) n += utf8Length(cmd.channel);
  if ("data" in cmd) n += utf8Length(JSON.stringify(cmd.data));
  if (cmd.type === "set_status") n += utf8Length(cmd.text ?? "") + utf8Length(cmd.emoji ?? "");
  return n;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Every batch has waiters, but a rejection must never count as unhandled on its own.
  done.catch(() => {});
  return { cmds: [], bytes: 0, done, resolve, reject };
}

export class BatchingAppender {
  readonly #partitions: number;
  readonly #publish: PublishBatch;
  readonly #maxBatch: number;
  readonly #maxBytes: number;
  readonly #maxPending: number;
  readonly #idPrefix: string;
  readonly #schedule: (fn: () => void) => void;
  readonly #lanes = new Map<number, Lane>();
  #counter = 0;
  /** Batches sealed or in flight. */
  #queued = 0;
  /** Batches with commands that are not yet settled (open, sealed or in flight). */
  #unsettled = 0;
  #tickScheduled = false;
  #closed = false;
  #idle: (() => void)[] = [];
  #stats = { appended_commands: 0, appended_batches: 0, failed_batches: 0, overloaded: 0 };

  constructor(opts: AppenderOptions) {
    this.#partitions = opts.partitions;
    this.#publish = opts.publish;
    this.#maxBatch = opts.maxBatchCommands ?? tuning.maxBatchCommands;
    this.#maxBytes = opts.maxBatchBytes ?? tuning.maxBatchBytes;
    this.#maxPending = opts.maxPendingBatches ?? tuning.maxPendingBatches;
    this.#idPrefix = opts.idPrefix;
    this.#schedule = opts.schedule ?? ((fn) => setImmediate(fn));
  }

  /**
   * Appends `cmds` (in order per partition). Throws at once, appending nothing, when the
   * appender is stopping or overloaded; the promise settles when all of them are acknowledged
   * or one of their batches failed.
   */
  append(cmds: readonly Command[]): Promise<void> {
    if (this.#closed) throw new StoppingError();
    if (this.#queued >= this.#maxPending) {
      this.#stats.overloaded++;
      throw new OverloadedError(this.#queued);
    }
    // Usually every command lands in one batch: then its promise is the answer, unwrapped.
    let only: Promise<void> | undefined;
    let waits: Set<Promise<void>> | undefined;
    for (const cmd of cmds) {
      const lane = this.#lane(partitionOf(cmd.user, this.#partitions));
      const size = approxSize(cmd);
      // A command that would take the open batch over its bytes goes into the next one.
      if (lane.open !== undefined && lane.open.bytes + size > this.#maxBytes) this.#seal(lane);
      let batch = lane.open;
      if (batch === undefined) {
        batch = newBatch();
        lane.open = batch;
        this.#unsettled++;
      }
      batch.cmds.push(cmd);
      batch.bytes += size;
      if (only === undefined) only = batch.done;
      else if (only !== batch.done) {
        waits ??= new Set([only]);
        waits.add(batch.done);
      }
      if (batch.cmds.length >= this.#maxBatch || batch.bytes >= this.#maxBytes) this.#seal(lane);
    }
    this.#scheduleTick();
    if (waits !== undefined) return Promise.all(waits).then(() => undefined);
    return only ?? Promise.resolve();
  }

  /** Sends every open batch now; resolves when nothing is pending any more. */
  flush(): Promise<void> {
    for (const lane of this.#lanes.values()) this.#sendOpen(lane);
    if (this.#unsettled === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Refuses new commands, then sends and awaits what is pending. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  stats(): AppenderStats {
    return { ...this.#stats, pending_batches: this.#queued };
  }

  #lane(partition: number): Lane {
    let lane = this.#lanes.get(partition);
    if (lane === undefined) {
      lane = { partition, open: undefined, sealed: [], sending: false };
      this.#lanes.set(partition, lane);
    }
    return lane;
  }

  /** Closes the lane's open batch: it goes when the batches before it have gone. */
  #seal(lane: Lane): void {
    const batch = lane.open;
    if (batch === undefined) return;
    lane.open = undefined;
    lane.sealed.push(batch);
    this.#queued++;
    this.#pump(lane);
  }

  #scheduleTick(): void {
    if (this.#tickScheduled) return;
    this.#tickScheduled = true;
    this.#schedule(() => {
      this.#tickScheduled = false;
      for (const lane of this.#lanes.values()) this.#sendOpen(lane);
    });
  }

  /**
   * Sends the lane's next batch unless a publish is in flight: a sealed one first; the open
   * one only when none is sealed (until then it keeps filling).
   */
  #sendOpen(lane: Lane): void {
    if (lane.open !== undefined && !lane.sending && lane.sealed.length === 0) {
      lane.sealed.push(lane.open);
      lane.open = undefined;
      this.#queued++;
    }
    this.#pump(lane);
  }

  #pump(lane: Lane): void {
    if (lane.sending) return;
    const batch = lane.sealed.shift();
    if (batch === undefined) return;
    lane.sending = true;
    const msgId = `${this.#idPrefix}-${++this.#counter}`;
    let sent: Promise<void>;
    try {
      sent = this.#publish(lane.partition, batch.cmds, msgId);
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      () => {
        this.#stats.appended_batches++;
        this.#stats.appended_commands += batch.cmds.length;
        this.#settled(lane);
        batch.resolve();
      },
      (err: unknown) => {
        this.#stats.failed_batches++;
        this.#settled(lane);
        batch.reject(new AppendFailedError(err instanceof Error ? err.message : String(err)));
      },
    );
  }

  #settled(lane: Lane): void {
    lane.sending = false;
    this.#queued--;
    this.#unsettled--;
    // What gathered while this batch was in flight goes next, without waiting for a tick.
    this.#sendOpen(lane);
    if (this.#unsettled === 0 && this.#idle.length > 0) {
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
    }
  }
}
