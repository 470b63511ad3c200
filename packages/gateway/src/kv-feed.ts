/**
 * Keeps a PresenceView current by watching the KV projections (`presence_status`,
 * `presence_members`). The view is ready once both watches have delivered the values the
 * buckets held when watching began: the watch marks the last of them (and every later one) as
 * an update; a bucket that was empty delivers none, which its status tells.
 *
 * A watch that was behind for `reloadAfterMs` loads its bucket again rather than resuming (old
 * delete markers are removed, so a leave missed for that long may leave nothing to see): what
 * the bucket still holds is applied where it differs, and keys it no longer holds are removed.
 */
import { buckets, compile, internalSchemas, type MemberDoc, type StatusDoc, schemas } from "@herald/protocol";
import { type Logger, retry, Watchdog } from "@herald/runtime";
import { jetstream } from "@nats-io/jetstream";
import { Kvm, type KvWatchEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { tuning } from "./tuning.js";
import type { PresenceView } from "./view.js";

const checkStatus = compile(schemas.StatusDoc);
const checkMember = compile(internalSchemas.MemberDoc);

export interface FeedOptions {
  /** How often each watch is checked for silence. */
  readonly checkMs: number;
  /** A watch behind for this long loads its bucket again instead of resuming. */
  readonly reloadAfterMs: number;
}

export interface FeedStats {
  readonly ready: boolean;
  /** KV values that were not JSON or failed their schema (left out of the view). */
  readonly invalid_values: number;
  /** Times a bucket was loaded again after its watch had been behind too long. */
  readonly reloads: number;
}

interface Target<T> {
  readonly bucket: string;
  /** What the view holds of this bucket, by key. */
  readonly held: () => ReadonlyMap<string, T>;
  readonly check: { explain(value: unknown, at?: string): string | undefined };
  readonly put: (key: string, doc: T) => void;
  readonly remove: (key: string) => void;
}

export class KvFeed {
  readonly #stops: (() => void)[] = [];
  readonly #loops: Promise<void>[] = [];
  #ready: Promise<void> = Promise.resolve();
  #isReady = false;
  #invalid = 0;
  #reloads = 0;
  readonly #pending = new Map<string, number>();

  #stopped = false;
  readonly #abort = new AbortController();

  private constructor(private readonly opts: FeedOptions) {}

  /** Starts both watches; resolves once they are set up (not necessarily ready). */
  static async start(
    nc: NatsConnection,
    view: PresenceView,
    log: Logger,
    opts: FeedOptions = { checkMs: tuning.watchCheckMs, reloadAfterMs: tuning.watchReloadAfterMs },
  ): Promise<KvFeed> {
    const feed = new KvFeed(opts);
    // Short request timeouts: on nats-server 2.9 a new watch's consumer may be placed on a
    // cluster node that is down, and its creation then waits for the timeout before another try.
    const kvm = new Kvm(jetstream(nc, { timeout: tuning.watchRequestTimeoutMs }));
    const status: Target<StatusDoc> = {
      bucket: buckets.status,
      held: () => view.statusByKey,
      check: checkStatus,
      put: (key, doc) => view.putStatus(key, doc),
      remove: (key) => view.deleteStatus(key),
    };
    const members: Target<MemberDoc> = {
      bucket: buckets.members,
      held: () => view.membersByKey,
      check: checkMember,
      put: (key, doc) => view.putMember(key, doc),
      remove: (key) => view.deleteMember(key),
    };
    const readies: Promise<void>[] = [];
    try {
      readies.push((await feed.#watch(kvm, status, log.child({ bucket: status.bucket }))).loaded);
      readies.push((await feed.#watch(kvm, members, log.child({ bucket: members.bucket }))).loaded);
    } catch (err) {
      await feed.stop();
      throw err;
    }
    feed.#ready = Promise.all(readies).then(() => {
      feed.#isReady = true;
    });
    return feed;
  }

  get ready(): boolean {
    return this.#isReady;
  }

  /** Resolves when the view holds what the buckets held at start. */
  whenReady(): Promise<void> {
    return this.#ready;
  }

  /** Per bucket, the values stored after the last one the view applied (its watch's lag). */
  pending(): ReadonlyMap<string, number> {
    return this.#pending;
  }

  stats(): FeedStats {
    return { ready: this.#isReady, invalid_values: this.#invalid, reloads: this.#reloads };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    for (const stop of this.#stops) stop();
    await Promise.allSettled(this.#loops);
  }

  /**
   * Starts one watch; `loaded` resolves once its initial values are applied. A watch that ends
   * while the feed is running (the server or a cluster node went away and its consumer could
   * not be made again) is started again from the revision after the last one applied, so the
   * view never stays stale. So is a watch that went silent while the bucket moved on (on
   * nats-server 2.9 its consumer can be lost with a cluster node and not come back). One that
   * was behind for `reloadAfterMs` is started again from the beginning of the bucket instead.
   */
  async #watch<T>(kvm: Kvm, target: Target<T>, log: Logger): Promise<{ loaded: Promise<void> }> {
    const kv = await kvm.open(target.bucket);
    let markReady!: () => void;
    let loaded = false;
    const ready = new Promise<void>((resolve) => {
      markReady = () => {
        if (loaded) return;
        loaded = true;
        log.debug("initial values loaded");
        resolve();
      };
    });
    let revision = 0;
    let watch = await kv.watch();
    /** When the watch was last known to have everything (a value, or a check finding it current). */
    let currentAt = Date.now();
    /** Set when the watch was behind too long: the next watch loads the bucket again. */
    let reload = false;
    /** Keys the view held when a reload began that the reload has not delivered yet. */
    let unseen: Set<string> | undefined;
    const caughtUp = () => {
      const now = Date.now();
      if (now - currentAt > this.opts.reloadAfterMs && !reload) {
        log.warn(
          { revision, behindMs: now - currentAt },
          "KV watch was behind too long; loading the bucket again",
        );
        reload = true;
        watch.stop();
      }
      currentAt = now;
    };
    const sweep = () => {
      if (unseen === undefined) return;
      for (const key of unseen) target.remove(key);
      log.info({ removed: unseen.size }, "bucket loaded again");
      unseen = undefined;
    };
    // A watch that went silent while the bucket moved on (its consumer lost with a node).
    const watchdog = new Watchdog({
      intervalMs: this.opts.checkMs,
      log,
      probe: async () => {
        const status = await kv.status();
        const behind = status.streamInfo.state.last_seq > revision;
        if (!behind) caughtUp();
        if (status.values === 0) sweep(); // a reload of a bucket now empty
        return { behind, received: revision };
      },
      onStall: async () => {
        log.warn({ revision }, "KV watch is silent; watching again");
        watch.stop();
      },
    }).start();
    this.#stops.push(() => void watchdog.stop());
    // Stops whichever watch is current (the variable moves on when a watch starts again).
    this.#stops.push(() => watch.stop());
    this.#loops.push(
      (async () => {
        for (;;) {
          try {
            for await (const entry of watch) {
              caughtUp();
              if (reload) break;
              revision = entry.revision;
              this.#pending.set(target.bucket, entry.delta ?? 0);
              unseen?.delete(entry.key);
              this.#apply(entry, target, log, unseen !== undefined);
              if (entry.isUpdate || entry.delta === 0) {
                markReady();
                sweep();
              }
            }
          } catch (err) {
            log.warn({ err }, "KV watch ended with an error");
          }
          if (this.#stopped) return;
          let again = false;
          try {
            watch = await retry(
              () => {
                // Decided at each try: an outage that outlasts the threshold makes it a reload, and
                // a reload cut short is begun again (resuming would not deliver what it had not reached).
                again = reload || unseen !== undefined || Date.now() - currentAt > this.opts.reloadAfterMs;
                return again ? kv.watch() : kv.watch({ resumeFromRevision: revision + 1 });
              },
              {
                what: "starting the KV watch again",
                minDelayMs: 200,
                maxDelayMs: 5000,
                signal: this.#abort.signal,
                log,
              },
            );
          } catch {
            return; // stopped
          }
          log.info({ revision, reload: again }, "KV watch started again");
          if (again) {
            reload = false;
            this.#reloads++;
            unseen = new Set(target.held().keys());
            currentAt = Date.now();
            // An empty bucket delivers nothing that ends the reload (else the watchdog's check does).
            if (
              await kv.status().then(
                (s) => s.values === 0,
                () => false,
              )
            )
              sweep();
          }
        }
      })(),
    );
    // An empty bucket delivers no initial value to mark the end of them.
    if ((await kv.status()).values === 0) markReady();
    return { loaded: ready };
  }

  /** Applies one entry; during a reload, a value the view already holds as is changes nothing. */
  #apply<T>(entry: KvWatchEntry, target: Target<T>, log: Logger, reloading: boolean): void {
    if (entry.operation !== "PUT") {
      target.remove(entry.key);
      return;
    }
    let value: unknown;
    let problem: string | undefined;
    try {
      value = entry.json();
      problem = target.check.explain(value, "value");
    } catch (err) {
      problem = `not JSON: ${(err as Error).message}`;
    }
    if (problem !== undefined) {
      this.#invalid++;
      log.warn({ key: entry.key, revision: entry.revision, problem }, "ignoring an invalid KV value");
      // An unreadable value must not leave an older one in force.
      target.remove(entry.key);
      return;
    }
    if (reloading && JSON.stringify(target.held().get(entry.key)) === JSON.stringify(value)) return;
    target.put(entry.key, value as T);
  }
}
