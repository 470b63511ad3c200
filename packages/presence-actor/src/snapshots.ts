/**
 * A partition's snapshots (object store `herald_snapshots`, object `p<n>`): the whole partition
 * state with the command-stream sequence it covers, msgpack. Read once when a partition starts
 * (a hung read is abandoned and tried again; a snapshot of another format or partition is
 * ignored, and the partition replays instead); written in the background, one at a time.
 */
import { msgpack, partitionKeys } from "@herald/protocol";
import { retry } from "@herald/runtime";
import type { ObjectStore } from "@nats-io/obj";
import type { Logger } from "pino";
import { type SavedPartition, SNAPSHOT_VERSION } from "./partition.js";
import { tuning } from "./tuning.js";

/** A snapshot object: the partition state after applying every command up to `seq`. */
export interface Snapshot {
  readonly seq: number;
  readonly state: SavedPartition;
}

/** `work`, or a rejection after `ms`. */
function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export class SnapshotStore {
  #uploading: Promise<void> | undefined;
  /** Snapshots written. */
  written = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly partition: number,
    private readonly log: Logger,
  ) {}

  /** The newest usable snapshot, or undefined (replay from the start). */
  async load(signal: AbortSignal): Promise<Snapshot | undefined> {
    const name = partitionKeys.snapshot(this.partition);
    const bytes = await retry(
      () => withTimeout(this.store.getBlob(name), tuning.snapshotReadTimeoutMs, "reading the snapshot"),
      {
        what: "reading the snapshot",
        attempts: tuning.consumerAttempts,
        minDelayMs: 0,
        signal,
        log: this.log,
      },
    );
    if (bytes === null) return undefined;
    try {
      const snap = msgpack.decode(bytes) as Snapshot;
      if (snap.state?.v !== SNAPSHOT_VERSION || snap.state.partition !== this.partition) {
        this.log.warn({ v: snap.state?.v }, "ignoring a snapshot of another format; replaying instead");
        return undefined;
      }
      return snap;
    } catch (err) {
      this.log.warn({ err }, "ignoring an unreadable snapshot; replaying instead");
      return undefined;
    }
  }

  /** An upload is in progress (the next snapshot waits for it). */
  get uploading(): boolean {
    return this.#uploading !== undefined;
  }

  /** Starts writing `snapshot` (of `users` users); resolves when it is written (or failed, logged). */
  upload(snapshot: Snapshot, users: number, onWritten: () => void): Promise<void> {
    const bytes = msgpack.encode(snapshot);
    this.#uploading = (async () => {
      try {
        await this.store.putBlob({ name: partitionKeys.snapshot(this.partition) }, bytes);
        this.written++;
        onWritten();
        this.log.debug({ seq: snapshot.seq, bytes: bytes.length, users }, "snapshot written");
      } catch (err) {
        this.log.warn({ err }, "writing a snapshot failed; the next one will cover it");
      } finally {
        this.#uploading = undefined;
      }
    })();
    return this.#uploading;
  }

  /** Resolves when no upload is in progress. */
  async idle(): Promise<void> {
    await this.#uploading;
  }
}
