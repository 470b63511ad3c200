/**
 * Writes KV values so that they never go backwards. Each value is published straight to the
 * bucket's subject with the fact's stream sequence in a header, after reading the key's current
 * message: the write is skipped when that message comes from the same or a later fact, and the
 * publish expects the key's last sequence to still be the one read (compare-and-set), so two
 * projectors racing on a key can never replace a newer value. A lost race is read again and
 * retried. The values stay ordinary KV entries (`kv.get`, `nats kv get`, watchers).
 *
 * A key this writer wrote (or read) recently is not read before a newer fact is written: its
 * remembered revision goes into the compare-and-set, which fails if anybody wrote since, and
 * then the key is read. A skip is always decided on a fresh read.
 */

import { headers as H, kvNames } from "@herald/protocol";
import { isWrongLastSequence } from "@herald/runtime";
import type { JetStreamClient, JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { Empty, headers } from "@nats-io/nats-core";

import { WriteConflictError } from "./errors.js";
import { type KvWrite, parseFactSeq, supersedes } from "./project.js";

export type WriteOutcome = "applied" | "skipped";

export interface WriteTotals {
  /** Writes stored. */
  applied: number;
  /** Writes skipped because the key already holds the same or a later fact. */
  skipped: number;
}

export interface KvWriterOptions {
  /** Read-and-write attempts per key before giving up with {@link WriteConflictError}. */
  readonly casAttempts: number;
  /** Writes in flight at once. */
  readonly concurrency: number;
  /** Keys whose last state this writer remembers (to write without reading first). */
  readonly knownKeys: number;
}

/** What this writer last knew of a key: the fact its value came from and its KV revision. */
interface KeyState {
  readonly factSeq: number;
  readonly revision: number;
}

export class KvWriter {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  /** Buckets whose stream allows direct gets (any replica answers, no JSON envelope). */
  readonly #direct: ReadonlySet<string>;
  readonly #opts: KvWriterOptions;
  /** By key subject, least recently used first. */
  readonly #known = new Map<string, KeyState>();

  private constructor(jsm: JetStreamManager, direct: ReadonlySet<string>, opts: KvWriterOptions) {
    this.#jsm = jsm;
    this.#js = jsm.jetstream();
    this.#direct = direct;
    this.#opts = opts;
  }

  /** A writer for `buckets`, which must exist. */
  static async open(
    jsm: JetStreamManager,
    buckets: readonly string[],
    opts: KvWriterOptions,
  ): Promise<KvWriter> {
    const direct = new Set<string>();
    for (const bucket of buckets) {
      const info = await jsm.streams.info(kvNames.stream(bucket));
      if (info.config.allow_direct === true) direct.add(bucket);
    }
    return new KvWriter(jsm, direct, opts);
  }

  /**
   * The key's current message (value, delete marker or none). `consistent` asks the stream
   * leader; otherwise a direct get may be answered by a replica that lags, which costs at most
   * a failed compare-and-set.
   */
  async #current(bucket: string, subject: string, consistent: boolean): Promise<StoredMsg | null> {
    const stream = kvNames.stream(bucket);
    const query = { last_by_subj: subject };
    return !consistent && this.#direct.has(bucket)
      ? this.#jsm.direct.getMessage(stream, query)
      : this.#jsm.streams.getMessage(stream, query);
  }

  /**
   * Applies one write unless the key already reflects the same or a later fact. The key's state
   * is read first, unless this writer remembers it and the fact is newer: then the
   * compare-and-set on the remembered revision checks that nobody wrote since (a failed one
   * reads and tries again).
   */
  async write(w: KvWrite): Promise<WriteOutcome> {
    const subject = kvNames.subject(w.bucket, w.key);
    let known = this.#known.get(subject);
    let reads = 0;
    for (let attempt = 1; attempt <= this.#opts.casAttempts; attempt++) {
      // Skips are decided on what the key holds now, never on what was remembered.
      if (known !== undefined && reads === 0 && !supersedes(w.seq, known.factSeq)) known = undefined;
      if (known === undefined) {
        const current = await this.#current(w.bucket, subject, reads++ > 0);
        known = {
          factSeq: current === null ? 0 : parseFactSeq(current.header?.get(H.factSeq)),
          revision: current?.seq ?? 0,
        };
        this.#remember(subject, known);
      }
      if (!supersedes(w.seq, known.factSeq)) return "skipped";
      const h = headers();
      h.set(H.factSeq, String(w.seq));
      if (w.op === "del") h.set(kvNames.operationHeader, kvNames.deleteOperation);
      try {
        const ack = await this.#js.publish(subject, w.op === "put" ? w.value : Empty, {
          headers: h,
          expect: { lastSubjectSequence: known.revision },
        });
        this.#remember(subject, { factSeq: w.seq, revision: ack.seq });
        return "applied";
      } catch (err) {
        // Lost the race (read again), or unsure whether it was stored (forget what we knew).
        this.#known.delete(subject);
        if (!isWrongLastSequence(err)) throw err;
        known = undefined;
      }
    }
    throw new WriteConflictError(w.bucket, w.key, this.#opts.casAttempts);
  }

  /** Remembers a key's state, forgetting the least recently used beyond `knownKeys`. */
  #remember(subject: string, state: KeyState): void {
    this.#known.delete(subject);
    this.#known.set(subject, state);
    if (this.#known.size > this.#opts.knownKeys) {
      const oldest = this.#known.keys().next();
      if (oldest.done !== true) this.#known.delete(oldest.value);
    }
  }

  /**
   * Applies writes to distinct keys, several at a time. Waits for every started write before
   * failing with the first error, so a retry never races a write of its own earlier attempt.
   */
  async writeAll(writes: readonly KvWrite[]): Promise<WriteTotals> {
    const totals: WriteTotals = { applied: 0, skipped: 0 };
    let next = 0;
    let failure: { err: unknown } | undefined;
    const worker = async () => {
      while (failure === undefined) {
        const w = writes[next++];
        if (w === undefined) return;
        try {
          totals[await this.write(w)]++;
        } catch (err) {
          failure ??= { err };
        }
      }
    };
    const workers = Math.min(this.#opts.concurrency, writes.length);
    await Promise.all(Array.from({ length: workers }, worker));
    if (failure !== undefined) throw failure.err;
    return totals;
  }
}
