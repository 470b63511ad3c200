/**
 * Partition leases in the `herald_leases` bucket: key `p<n>` → `{owner, expires_at_ms}`. A
 * process takes a free or expired lease by compare-and-set on the key's revision, renews what
 * it holds, and aims at an even share: every process also keeps a key `o.<owner>` alive, so
 * with N live processes each holds at most ceil(P / N) and gives back the rest — partitions
 * spread over the processes that are running, including one that just joined.
 */
import { buckets } from "@herald/protocol";
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

const key = (p: number): string => `p${p}`;
const OWNER_PREFIX = "o.";
const encoder = new TextEncoder();

export class Leases {
  /** Partition → revision of our lease, and until when (our clock) we may act on it. */
  readonly #held = new Map<number, { revision: number; validUntil: number }>();
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> = Promise.resolve();
  #closed = false;

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

  /** Runs a first round now, then one every `renewMs`. */
  async start(): Promise<void> {
    await this.#run();
    this.#timer = setInterval(() => void this.#run(), this.opts.renewMs);
  }

  #run(): Promise<void> {
    this.#round = this.#round
      .then(() => (this.#closed ? undefined : this.round()))
      .catch((err: unknown) => {
        this.log.warn({ err }, "lease round failed");
      });
    return this.#round;
  }

  #value(now: number): Uint8Array {
    const v: LeaseValue = { owner: this.opts.owner, expires_at_ms: now + this.opts.ttlMs };
    return encoder.encode(JSON.stringify(v));
  }

  /** One round: renew ours, count owners, take free leases up to our share, give back extras. */
  async round(): Promise<void> {
    const now = Date.now();
    await this.kv.put(`${OWNER_PREFIX}${this.opts.owner}`, this.#value(now));
    const current = new Map<number, { value: LeaseValue | undefined; revision: number }>();
    for (let p = 0; p < this.opts.partitions; p++) {
      const e = await this.kv.get(key(p));
      const value = e !== null && e.operation === "PUT" ? (e.json<LeaseValue>() as LeaseValue) : undefined;
      current.set(p, { value, revision: e?.revision ?? 0 });
    }
    // Live processes: every one keeps its `o.<owner>` key fresh.
    const owners = new Set<string>([this.opts.owner]);
    const ownerKeys: string[] = [];
    // Listed from the stream's subjects, not with kv.keys(): that creates a consumer, and on
    // nats-server before 2.12 creating one can pick a cluster node that is down and hang 5 s.
    const info = await this.jsm.streams.info(`KV_${buckets.leases}`, {
      subjects_filter: `$KV.${buckets.leases}.${OWNER_PREFIX}>`,
    });
    const prefix = `$KV.${buckets.leases}.`;
    for (const subject of Object.keys(info.state.subjects ?? {}))
      ownerKeys.push(subject.slice(prefix.length));
    for (const k of ownerKeys) {
      const e = await this.kv.get(k);
      if (e?.operation !== "PUT") continue;
      const v = e.json<LeaseValue>();
      if (v.expires_at_ms > now) owners.add(v.owner);
    }
    const share = Math.ceil(this.opts.partitions / owners.size);
    this.log.debug({ owners: owners.size, share, held: this.held }, "lease round");

    // Renew what we hold; a lease someone else took in the meantime is lost.
    for (const [p, { revision }] of [...this.#held]) {
      const seen = current.get(p);
      if (seen?.revision !== revision || seen.value?.owner !== this.opts.owner) {
        this.log.warn({ partition: p }, "lease lost");
        this.#held.delete(p);
        await this.handlers.released(p);
        continue;
      }
      try {
        this.#held.set(p, this.#lease(now, await this.kv.update(key(p), this.#value(now), revision)));
      } catch (err) {
        this.log.warn({ partition: p, err }, "lease renewal failed; giving the partition up");
        this.#held.delete(p);
        await this.handlers.released(p);
      }
    }
    // Give back what is over our share, so a process that joined gets its part.
    while (this.#held.size > share) {
      const p = Math.max(...this.#held.keys());
      await this.#release(p);
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
        this.#held.set(p, this.#lease(now, rev));
        this.log.info({ partition: p }, "lease acquired");
        await this.handlers.acquired(p);
      } catch {
        // Someone else was faster.
      }
    }
  }

  #lease(sentAt: number, revision: number): { revision: number; validUntil: number } {
    return { revision, validUntil: sentAt + this.opts.ttlMs - this.opts.renewMs };
  }

  async #release(p: number): Promise<void> {
    const revision = this.#held.get(p)?.revision;
    this.#held.delete(p);
    await this.handlers.released(p);
    if (revision !== undefined) {
      await this.kv.delete(key(p), { previousSeq: revision }).catch(() => undefined);
    }
    this.log.info({ partition: p }, "lease released");
  }

  /** Stops renewing and gives every lease back (after its partition stopped). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#round;
    for (const p of [...this.#held.keys()]) await this.#release(p);
    await this.kv.delete(`${OWNER_PREFIX}${this.opts.owner}`).catch(() => undefined);
  }
}
