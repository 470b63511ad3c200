/**
 * A partition's checkpoint (bucket `herald_checkpoints`, key `p<n>`): its owner and the last
 * command-stream sequence whose outputs are stored. It is written only by compare-and-set on
 * its revision, which makes it the fence against a stale owner: a new owner's first act is to
 * claim it, so the old owner's next write fails and it stops (`FencedError`).
 */
import { partitionKeys } from "@herald/protocol";
import { isWrongLastSequence, retry } from "@herald/runtime";
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { FencedError } from "./errors.js";
import { tuning } from "./tuning.js";

/** The value of a checkpoint key. */
export interface Checkpoint {
  readonly owner: string;
  /** The last command-stream sequence of this partition whose outputs are stored. */
  readonly seq: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class CheckpointFence {
  /** Revision of our checkpoint key: the fencing token. */
  #revision = 0;

  constructor(
    private readonly kv: KV,
    private readonly partition: number,
    private readonly owner: string,
    /** Whether our lease is still valid by our own clock. */
    private readonly leaseValid: () => boolean,
    private readonly log: Logger,
  ) {}

  #value(seq: number): Uint8Array {
    return encoder.encode(JSON.stringify({ owner: this.owner, seq } satisfies Checkpoint));
  }

  /**
   * Takes the key by compare-and-set: from now on the previous owner's writes fail. Returns the
   * sequence the previous owner had stored up to (0 for none).
   */
  async claim(): Promise<number> {
    const key = partitionKeys.checkpoint(this.partition);
    const entry = await this.kv.get(key);
    const had =
      entry?.operation === "PUT" ? (JSON.parse(decoder.decode(entry.value)) as Checkpoint) : undefined;
    const seq = had?.seq ?? 0;
    try {
      this.#revision =
        entry === null
          ? await this.kv.create(key, this.#value(seq))
          : await this.kv.update(key, this.#value(seq), entry.revision);
    } catch (err) {
      throw new FencedError(this.partition, `claiming the checkpoint failed: ${(err as Error).message}`);
    }
    return seq;
  }

  /**
   * Moves the checkpoint to `seq`. A lost compare-and-set means someone claimed the key after us
   * (or our last attempt did land and its reply was lost — stopping is then merely cautious):
   * fenced. Anything else is the cluster being unavailable for a moment: tried again while the
   * lease holds, then fenced.
   */
  async move(seq: number): Promise<void> {
    const key = partitionKeys.checkpoint(this.partition);
    try {
      this.#revision = await retry(() => this.kv.update(key, this.#value(seq), this.#revision), {
        what: "moving the checkpoint",
        attempts: tuning.checkpointAttempts,
        minDelayMs: 250,
        maxDelayMs: 2000,
        retryIf: (err) => !isWrongLastSequence(err) && this.leaseValid(),
        log: this.log,
      });
    } catch (err) {
      throw new FencedError(this.partition, `moving the checkpoint failed: ${(err as Error).message}`);
    }
  }
}
