/**
 * Keeps a PresenceView current by watching the KV projections (`presence_status`,
 * `presence_members`). The view is ready once both watches have delivered the values the
 * buckets held when watching began: the watch marks the last of them (and every later one) as
 * an update; a bucket that was empty delivers none, which its status tells.
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

export interface FeedStats {
  readonly ready: boolean;
  /** KV values that were not JSON or failed their schema (left out of the view). */
  readonly invalid_values: number;
}

interface Target<T> {
  readonly bucket: string;
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
  readonly #pending = new Map<string, number>();

  #stopped = false;
  readonly #abort = new AbortController();

  private constructor() {}

  /** Starts both watches; resolves once they are set up (not necessarily ready). */
  static async start(nc: NatsConnection, view: PresenceView, log: Logger): Promise<KvFeed> {
    const feed = new KvFeed();
    // Short request timeouts: on nats-server 2.9 a new watch's consumer may be placed on a
    // cluster node that is down, and its creation then waits for the timeout before another try.
    const kvm = new Kvm(jetstream(nc, { timeout: tuning.watchRequestTimeoutMs }));
    const status: Target<StatusDoc> = {
      bucket: buckets.status,
      check: checkStatus,
      put: (key, doc) => view.putStatus(key, doc),
      remove: (key) => view.deleteStatus(key),
    };
    const members: Target<MemberDoc> = {
      bucket: buckets.members,
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
    return { ready: this.#isReady, invalid_values: this.#invalid };
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
   * nats-server 2.9 its consumer can be lost with a cluster node and not come back).
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
    // A watch that went silent while the bucket moved on (its consumer lost with a node).
    const watchdog = new Watchdog({
      intervalMs: tuning.watchCheckMs,
      log,
      probe: async () => ({
        behind: (await kv.status()).streamInfo.state.last_seq > revision,
        received: revision,
      }),
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
              revision = entry.revision;
              this.#pending.set(target.bucket, entry.delta ?? 0);
              this.#apply(entry, target, log);
              if (entry.isUpdate || entry.delta === 0) markReady();
            }
          } catch (err) {
            log.warn({ err }, "KV watch ended with an error");
          }
          if (this.#stopped) return;
          try {
            watch = await retry(() => kv.watch({ resumeFromRevision: revision + 1 }), {
              what: "starting the KV watch again",
              minDelayMs: 200,
              maxDelayMs: 5000,
              signal: this.#abort.signal,
              log,
            });
            log.info({ revision }, "KV watch started again");
          } catch {
            return; // stopped
          }
        }
      })(),
    );
    // An empty bucket delivers no initial value to mark the end of them.
    if ((await kv.status()).values === 0) markReady();
    return { loaded: ready };
  }

  #apply<T>(entry: KvWatchEntry, target: Target<T>, log: Logger): void {
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
    target.put(entry.key, value as T);
  }
}
