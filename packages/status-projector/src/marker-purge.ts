/**
 * Removes old delete markers from the members bucket. A member's key holds its conn id, new on
 * every connection, and the bucket (history 1) would otherwise keep one delete marker for every
 * member that ever left: the bucket, nats-server's memory and every gateway's watch replay grow
 * with conn churn without bound (docs/ROBUSTNESS.md, finding 5).
 *
 * A marker is removed only once it is older than `maxAgeMs`: until then it is what stops a fact
 * from before the leave, written late, from bringing the member back (KvWriter compares the
 * facts' sequences), and a gateway whose watch was cut off for a while resumes and sees it. A
 * gateway cut off for longer reloads the bucket instead (gateway/kv-feed.ts). The purge removes
 * the marker's sequence and what came before it on that key, never a value written after it
 * (the member joining again with the same conn). Several projectors may run it; it is idempotent.
 *
 * What this gives up: a write held up for longer than `maxAgeMs` (a projector process paused
 * for 15 minutes in the middle of a batch, its facts long since delivered again to another)
 * finds no marker and could bring back a member who left. Delivered again after 30 s and
 * retried for seconds, a write is not normally that late.
 */
import { buckets, kvNames } from "@herald/protocol";
import type { Logger } from "@herald/runtime";
import { DeliverPolicy, type JetStreamManager } from "@nats-io/jetstream";

export interface MarkerPurgeOptions {
  /** Markers older than this are removed. */
  readonly maxAgeMs: number;
  /** How often the bucket is scanned. */
  readonly everyMs: number;
  /** Purge requests in flight at once. */
  readonly concurrency: number;
}

export interface MarkerPurgeResult {
  /** Keys the scan looked at (values and markers). */
  readonly scanned: number;
  /** Markers removed. */
  readonly purged: number;
}

const MARKERS = new Set([kvNames.deleteOperation, "PURGE"]);

/** A marker found by a scan: its key's subject and its sequence. */
export interface OldMarker {
  readonly subject: string;
  readonly seq: number;
}

export class MarkerPurge {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #stopped = false;
  /** Markers removed since start. */
  purged = 0;

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly opts: MarkerPurgeOptions,
    private readonly log: Logger,
    private readonly bucket: string = buckets.members,
  ) {}

  /** Scans every `everyMs`, the first time at a random point of the first interval. */
  start(): void {
    const tick = () => {
      if (this.#stopped) return;
      this.#running = this.run().catch((err: unknown) =>
        this.log.warn({ err }, "purging delete markers failed"),
      );
      this.#timer = setTimeout(tick, this.opts.everyMs);
      this.#timer.unref();
    };
    this.#timer = setTimeout(tick, Math.floor(Math.random() * this.opts.everyMs));
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** One scan: every marker older than `maxAgeMs` (by the server's timestamps) is removed. */
  async run(now = Date.now()): Promise<MarkerPurgeResult> {
    const { scanned, old } = await this.scan(now);
    const purged = await this.remove(old);
    if (purged > 0) this.log.info({ bucket: this.bucket, scanned, purged }, "old delete markers removed");
    return { scanned, purged };
  }

  /** The markers older than `maxAgeMs`, and how many keys were looked at. */
  async scan(now = Date.now()): Promise<{ scanned: number; old: OldMarker[] }> {
    const stream = kvNames.stream(this.bucket);
    const prefix = kvNames.subject(this.bucket, "");
    const old: OldMarker[] = [];
    let scanned = 0;
    const info = await this.jsm.streams.info(stream);
    // The newest message stays even when it is an old marker: without it the stream's last
    // sequence would be above every message it holds, and a watch would look behind for good.
    const last = info.state.last_seq;
    const js = this.jsm.jetstream();
    const consumer = await js.consumers.get(stream, {
      deliver_policy: DeliverPolicy.LastPerSubject,
      filter_subjects: `${prefix}>`,
      headers_only: true,
    });
    // Asked of the consumer, not the stream: messages counted a moment ago may have been
    // purged since (by another projector), and a consume with nothing to deliver never ends.
    if ((await consumer.info(true)).num_pending > 0) {
      const messages = await consumer.consume();
      try {
        for await (const m of messages) {
          scanned++;
          const op = m.headers?.get(kvNames.operationHeader) ?? "";
          if (MARKERS.has(op) && m.seq !== last && now - m.time.getTime() >= this.opts.maxAgeMs)
            old.push({ subject: m.subject, seq: m.seq });
          if (m.info.pending === 0 || this.#stopped) break;
        }
      } finally {
        await messages.close();
      }
    }
    await consumer.delete().catch(() => undefined); // else the server drops it after a while
    return { scanned, old };
  }

  /**
   * Removes each marker and what came before it on its key: a value written on the key since
   * the scan (a later sequence) stays. Returns how many messages were removed.
   */
  async remove(old: readonly OldMarker[]): Promise<number> {
    const stream = kvNames.stream(this.bucket);
    let purged = 0;
    let next = 0;
    const worker = async () => {
      for (let m = old[next++]; m !== undefined && !this.#stopped; m = old[next++]) {
        // Everything on this key before the marker's sequence + 1: the marker, never a later value.
        const r = await this.jsm.streams.purge(stream, { filter: m.subject, seq: m.seq + 1 });
        purged += r.purged;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, old.length) }, worker));
    this.purged += purged;
    return purged;
  }
}
