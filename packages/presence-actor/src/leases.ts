/**
 * Partition leases in the `herald_leases` bucket: key `p<n>` → `{owner, expires_at_ms}`. A
 * process takes a free or expired lease by compare-and-set on the key's revision, renews what
 * it holds, and aims at an even share: every process also keeps a key `o.<owner>` alive, so
 * with N live processes each holds at most ceil(P / N) and gives back the rest — partitions
 * spread over the processes that are running, including one that just joined.
 */
import { buckets, kvNames, partitionKeys } from "@herald/protocol";
import { isWrongLastSequence } from "@herald/runtime";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";

export interface LeaseValue {
  readonly owner: string;
  readonly expires_at_ms: number;
}

export interface LeaseOptions {
  readonly owner: string;
  readonly partitions: number;
  readonly ttlMs: number;
  readonly renewMs: number;
}

export interface LeaseHandlers {
  /** The lease of `p` is ours: start processing it. */
  acquired(p: number): Promise<void>;
  /** We must stop processing `p` (given back, or lost); resolve once it is stopped. */
  released(p: number): Promise<void>;
}

interface Held {
  readonly revision: number;
  readonly validUntil: number;
  readonly acquisition: number;
}

const key = partitionKeys.lease;
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const encoder = new TextEncoder();

export class Leases {
  /**
   * Partition → revision of our lease, until when (our clock) we may act on it, and which of
   * our acquisitions of it this is (renewals keep it).
   */
  readonly #held = new Map<number, Held>();
  #acquisitions = 0;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> = Promise.resolve();
  #closed = false;
  #renewTimer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> | undefined;
  /** Partitions being stopped to give their leases back; still held and renewed meanwhile. */
  readonly #releasing = new Map<number, Promise<void>>();

  constructor(
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
    private readonly opts: LeaseOptions,
    private readonly handlers: LeaseHandlers,
    private readonly log: Logger,
  ) {}

  get held(): number[] {
    return [...this.#held.keys()].sort((a, b) => a - b);
  }

  /**
   * Whether we may still act on `p`: our lease was last written less than a ttl ago, less a
   * renewal interval of margin for clocks that drift apart. Others take the lease only once it
   * has expired by their clock, so a paused process stops acting before anyone else starts.
   */
  valid(p: number, now = Date.now()): boolean {
    const lease = this.#held.get(p);
    return lease !== undefined && now < lease.validUntil;
  }

  /**
   * After our lease of `p` ran out by our clock with the partition still running (renewals
   * answered later than the margin: a server busy storing a flood), waits for a renewal that
   * lands in time instead of giving the partition up. True once the lease is valid again; false
   * once it is lost (someone else wrote it) or `signal` is aborted. Nothing may be stored
   * meanwhile; a renewal by compare-and-set that succeeds proves no one took the lease, so the
   * partition goes on with what it applied rather than being fenced and replayed. Gives up
   * (false) after six ttls: a process that cannot renew in time for that long lets the lease go.
   */
  async regain(p: number, signal: AbortSignal): Promise<boolean> {
    // The acquisition the waiting runner belongs to: a later one (the partition dropped and
    // taken again meanwhile) is another runner's.
    const acquisition = this.#held.get(p)?.acquisition;
    const giveUpAt = Date.now() + 6 * this.opts.ttlMs;
    let logged = false;
    for (;;) {
      const held = this.#held.get(p);
      if (signal.aborted || held === undefined || held.acquisition !== acquisition) return false;
      if (Date.now() < held.validUntil) {
        if (logged) this.log.info({ partition: p }, "lease renewed in time again; going on");
        return true;
      }
      if (Date.now() > giveUpAt) {
        this.log.warn({ partition: p }, "lease not renewed in time for six ttls; giving it up");
        return false;
      }
      if (!logged) {
        this.log.warn({ partition: p }, "lease ran out before it was renewed; waiting for a renewal");
        logged = true;
      }
      await this.#renewNow();
      if (!this.valid(p)) await delay(Math.min(this.opts.renewMs, 250)); // not back to back
    }
  }

  /**
   * Forgets `p` after its partition stopped on its own. `release` deletes our lease so the
   * partition can be taken again at once (after a failure); a fenced partition is left alone.
   */
  drop(p: number, release: boolean): Promise<void> {
    this.#round = this.#round.then(async () => {
      const lease = this.#held.get(p);
      if (lease === undefined) return;
      this.#held.delete(p);
      if (release) await this.kv.delete(key(p), { previousSeq: lease.revision }).catch(() => undefined);
      this.log.info({ partition: p, release }, "lease dropped");
    });
    return this.#round;
  }

  /**
   * Runs a first round now, then one every `renewMs`; renewals also run on a timer of their
   * own, so a slow round (a read that waits for its timeout) never holds them up.
   */
  async start(): Promise<void> {
    await this.#run();
    this.#timer = setInterval(() => void this.#run(), this.opts.renewMs);
    this.#renewTimer = setInterval(() => void this.#renewNow(), this.opts.renewMs);
  }

  #run(): Promise<void> {
    this.#round = this.#round
      .then(() => (this.#closed ? undefined : this.round()))
      .catch((err: unknown) => {
        this.log.warn({ err }, "lease round failed");
      });
    return this.#round;
  }

  /** Renews what we hold, unless a renewal is in flight already (then waits for that one). */
  #renewNow(): Promise<void> {
    this.#renewing ??= this.#renew(Date.now())
      .catch((err: unknown) => this.log.warn({ err }, "lease renewal failed"))
      .finally(() => {
        this.#renewing = undefined;
      });
    return this.#renewing;
  }

  #value(now: number): Uint8Array {
    const v: LeaseValue = { owner: this.opts.owner, expires_at_ms: now + this.opts.ttlMs };
    return encoder.encode(JSON.stringify(v));
  }

  /**
   * One round: renew ours (or wait for the renewal in flight), then read the leases and the
   * live owners, give back what is over our share and take free leases up to it.
   */
  async round(): Promise<void> {
    const now = Date.now();
    await this.#renewNow();
    const [current, owners] = await Promise.all([
      this.#read(),
      this.#owners(now),
      this.kv.put(partitionKeys.owner(this.opts.owner), this.#value(now)),
    ]);
    const share = Math.ceil(this.opts.partitions / owners);
    this.log.debug({ owners, share, held: this.held }, "lease round");

    // Give back what is over our share, so a process that joined gets its part.
    // Not awaited: stopping a large partition takes a while, and the next rounds must renew the
    // leases meanwhile (its own included, until it has stored what it applied).
    const keep = () => [...this.#held.keys()].filter((p) => !this.#releasing.has(p));
    while (keep().length > share) {
      const p = Math.max(...keep());
      this.#release(p).catch((err: unknown) => this.log.warn({ partition: p, err }, "stopping failed"));
    }
    // Take free or expired leases up to our share.
    for (const [p, { value, revision }] of current) {
      if (this.#held.size >= share) break;
      if (this.#held.has(p)) continue;
      if (value !== undefined && value.expires_at_ms > now) continue;
      try {
        const rev =
          revision === 0
            ? await this.kv.create(key(p), this.#value(now))
            : await this.kv.update(key(p), this.#value(now), revision);
        this.#held.set(p, this.#lease(now, rev, ++this.#acquisitions));
        this.log.info({ partition: p }, "lease acquired");
        await this.handlers.acquired(p);
      } catch {
        // Someone else was faster.
      }
    }
  }

  /**
   * Renews every lease we hold by compare-and-set on the revision we wrote. A lease someone
   * else wrote since is lost: its partition stops (not awaited). A renewal that failed
   * otherwise (a timeout) is tried again at the next renewal; the lease stays valid until its
   * time runs out, and the runner fences itself then.
   */
  async #renew(now: number): Promise<void> {
    await Promise.all(
      [...this.#held].map(async ([p, { revision, acquisition }]) => {
        try {
          const renewed = await this.kv.update(key(p), this.#value(now), revision);
          // Given back meanwhile (a release finished while this renewal was in flight): not ours.
          if (this.#held.get(p)?.revision === revision)
            this.#held.set(p, this.#lease(now, renewed, acquisition));
        } catch (err) {
          if (!isWrongLastSequence(err)) {
            this.log.warn({ partition: p, err }, "lease renewal failed; trying again at the next one");
            return;
          }
          // Our own earlier renewal may have landed with its reply lost: then the key is ours.
          const e = await this.kv.get(key(p)).catch(() => null);
          const held = this.#held.get(p);
          if (held?.revision !== revision) return;
          if (e?.operation === "PUT" && e.json<LeaseValue>().owner === this.opts.owner) {
            this.#held.set(p, { ...held, revision: e.revision });
            return;
          }
          this.log.warn({ partition: p }, "lease lost");
          this.#held.delete(p);
          this.handlers
            .released(p)
            .catch((e2: unknown) => this.log.warn({ partition: p, err: e2 }, "stopping failed"));
        }
      }),
    );
  }

  /** Every partition's lease as stored now. */
  async #read(): Promise<Map<number, { value: LeaseValue | undefined; revision: number }>> {
    const entries = await Promise.all(
      Array.from({ length: this.opts.partitions }, (_, p) => this.kv.get(key(p))),
    );
    const current = new Map<number, { value: LeaseValue | undefined; revision: number }>();
    for (const [p, e] of entries.entries()) {
      const value = e !== null && e.operation === "PUT" ? (e.json<LeaseValue>() as LeaseValue) : undefined;
      current.set(p, { value, revision: e?.revision ?? 0 });
    }
    return current;
  }

  /** How many processes are live (ourselves included): each keeps its `o.<owner>` key fresh. */
  async #owners(now: number): Promise<number> {
    // Listed from the stream's subjects, not with kv.keys(): that creates a consumer, and on
    // nats-server before 2.12 creating one can pick a cluster node that is down and hang 5 s.
    const info = await this.jsm.streams.info(kvNames.stream(buckets.leases), {
      subjects_filter: kvNames.subject(buckets.leases, `${partitionKeys.ownerPrefix}>`),
    });
    const prefix = kvNames.subject(buckets.leases, "");
    const keys = Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
    const entries = await Promise.all(keys.map((k) => this.kv.get(k)));
    const owners = new Set<string>([this.opts.owner]);
    for (const e of entries) {
      if (e?.operation !== "PUT") continue;
      const v = e.json<LeaseValue>();
      if (v.expires_at_ms > now) owners.add(v.owner);
    }
    return owners.size;
  }

  #lease(sentAt: number, revision: number, acquisition: number): Held {
    return { revision, validUntil: sentAt + this.opts.ttlMs - this.opts.renewMs, acquisition };
  }

  /**
   * Stops the partition, then gives its lease back. The lease is held (and valid) while the
   * partition stops, so it can still store what it applied and write its snapshot.
   */
  #release(p: number): Promise<void> {
    let releasing = this.#releasing.get(p);
    if (releasing === undefined) {
      releasing = (async () => {
        try {
          await this.handlers.released(p);
        } finally {
          const revision = this.#held.get(p)?.revision;
          this.#held.delete(p);
          this.#releasing.delete(p);
          if (revision !== undefined) {
            await this.kv.delete(key(p), { previousSeq: revision }).catch(() => undefined);
          }
          this.log.info({ partition: p }, "lease released");
        }
      })();
      this.#releasing.set(p, releasing);
    }
    return releasing;
  }

  /** Stops renewing and gives every lease back (after its partition stopped). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#round;
    try {
      // All at once: each partition stores what it holds and writes its snapshot.
      await Promise.all([...this.#held.keys()].map((p) => this.#release(p)));
    } finally {
      // Renewals go on until here: the partitions being stopped still store what they applied.
      clearInterval(this.#timer);
      clearInterval(this.#renewTimer);
      await this.#round;
      await this.#renewing;
    }
    await this.kv.delete(partitionKeys.owner(this.opts.owner)).catch(() => undefined);
  }
}
