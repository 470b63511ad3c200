/**
 * Group commit of a partition's outputs. The runner applies command-stream messages as they
 * arrive and adds their outputs here; a group — everything applied since the last one — is
 * published at once (up to `publishWindow` in flight), and once all of it is acknowledged the
 * checkpoint moves to the last message's sequence: one checkpoint write per group, not per
 * message. A crash between the two replays the group, and JetStream drops the outputs already
 * stored by their ids. Replayed messages (up to the checkpoint claimed at start) were stored by
 * an earlier owner: their outputs are not published again.
 */
import { retry, type StreamPublisher } from "@herald/runtime";
import type { Logger } from "pino";
import type { CheckpointFence } from "./checkpoint.js";
import { FencedError } from "./errors.js";
import type { Output } from "./partition.js";
import { tuning } from "./tuning.js";

export interface GroupCommitOptions {
  readonly partition: number;
  readonly publisher: StreamPublisher;
  readonly fence: CheckpointFence;
  /** Whether our lease is still valid by our own clock; checked before every append. */
  readonly leaseValid: () => boolean;
  /** Waits for a lease that ran out to be renewed in time (true) or lost (false). */
  readonly regainLease: () => Promise<boolean>;
  /** A group could not be stored (or the partition is fenced): the runner must stop. */
  readonly onFailure: (err: Error) => void;
  /** The runner is stopping: a failed append is not tried again (the first try still runs). */
  readonly stopping: () => boolean;
  /** Told of every group once it is stored. */
  readonly stored?: (outputs: readonly Output[]) => void;
  readonly log: Logger;
}

export class GroupCommit {
  readonly #o: GroupCommitOptions;
  /** Outputs of the messages in (`stored`, `applied`], in order. */
  #pending: Output[] = [];
  /** The last sequence applied, and the last whose outputs are stored (and checkpointed). */
  #applied = 0;
  #stored = 0;
  /** Up to here, outputs were stored by an earlier owner. */
  #replayTo = 0;
  #scheduled = false;
  #storing = false;
  #chain: Promise<void> = Promise.resolve();
  #failed = false;
  /** Outputs published. */
  appended = 0;

  constructor(opts: GroupCommitOptions) {
    this.#o = opts;
  }

  /** After a restore: everything up to `seq` is applied and stored; replays up to `replayTo` store nothing. */
  reset(seq: number, replayTo: number): void {
    this.#applied = this.#stored = seq;
    this.#replayTo = Math.max(replayTo, seq);
  }

  get applied(): number {
    return this.#applied;
  }

  get stored(): number {
    return this.#stored;
  }

  /** Whether message `seq` is a replay of what an earlier owner stored. */
  replaying(seq: number): boolean {
    return seq <= this.#replayTo;
  }

  /** A group is being published or checkpointed. */
  get storing(): boolean {
    return this.#storing;
  }

  get pending(): number {
    return this.#pending.length;
  }

  /** The outputs of message `seq` (none for a replay); they go with the next group. */
  add(seq: number, outputs: readonly Output[]): void {
    for (const o of outputs) this.#pending.push(o);
    this.#applied = seq;
  }

  /** Stores a group soon: after the messages already delivered have been applied (they join it). */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.flush();
    });
  }

  /** Stores everything applied so far; resolves once it is stored (or failed: `onFailure`). */
  flush(): Promise<void> {
    this.#chain = this.#chain.then(() => this.#store()).catch((err: unknown) => this.#fail(err as Error));
    return this.#chain;
  }

  #fail(err: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#o.onFailure(err);
  }

  async #store(): Promise<void> {
    const seq = this.#applied;
    if (this.#failed || seq <= this.#stored) return;
    const out = this.#pending;
    this.#pending = [];
    if (seq > this.#replayTo) {
      this.#storing = true;
      try {
        if (!this.#o.leaseValid() && !(await this.#o.regainLease()))
          throw new FencedError(this.#o.partition, "our lease ran out and was not renewed in time");
        await this.#append(out);
        await this.#o.fence.move(seq);
      } finally {
        this.#storing = false;
      }
    }
    this.#stored = seq;
  }

  /** Publishes a group, stored in the order sent (one connection); the ids make a retry harmless. */
  async #append(out: readonly Output[]): Promise<void> {
    if (out.length === 0) return;
    await retry(
      async () => {
        for (let i = 0; i < out.length; i += tuning.publishWindow) {
          await this.#o.publisher.publishAll(out.slice(i, i + tuning.publishWindow));
        }
      },
      {
        what: "appending events",
        attempts: tuning.appendAttempts,
        minDelayMs: 100,
        maxDelayMs: 2000,
        retryIf: () => !this.#o.stopping(),
        log: this.#o.log,
      },
    );
    this.appended += out.length;
    this.#o.stored?.(out);
  }
}
