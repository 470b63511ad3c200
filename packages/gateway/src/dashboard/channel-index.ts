/**
 * Visible members per channel, for the dashboard's top channels: the gateway's view has no
 * list of channels to rank (its queries name one channel), so while a dashboard is open its
 * monitor watches `presence_members` itself, keeping each visible member's key, channel and user
 * (not its data), and per channel its members and users, counted as `presence_stats` counts
 * them. Started and stopped with the monitor; its memory is about that of the keys. A watch
 * that ends is started again from the beginning of the bucket, the counts with it: resuming could
 * miss a leave whose delete marker was removed meanwhile (status-projector's marker-purge.ts).
 */

import type { ChannelCount } from "@herald/dashboard";
import { buckets, compile, internalSchemas, type MemberDoc } from "@herald/protocol";
import { type Logger, retry } from "@herald/runtime";
import { jetstream } from "@nats-io/jetstream";
import { Kvm, type KvWatchEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";

const checkMember = compile(internalSchemas.MemberDoc);

/** Keeps the `n` largest of what it is offered (a small sorted list: `n` is ten or so). */
export function topN<T>(items: Iterable<T>, n: number, larger: (a: T, b: T) => boolean): T[] {
  const top: T[] = [];
  for (const item of items) {
    if (top.length === n && !larger(item, top[n - 1] as T)) continue;
    let i = top.length;
    while (i > 0 && larger(item, top[i - 1] as T)) i--;
    top.splice(i, 0, item);
    if (top.length > n) top.pop();
  }
  return top;
}

/** channel → its visible members (conns), and each user's count of them. */
type ChannelCounts = Map<string, { members: number; readonly users: Map<string, number> }>;

export class ChannelIndex {
  /** member key → its channel and user, for visible members. */
  readonly #members = new Map<string, { readonly channel: string; readonly user: string }>();
  readonly #channels: ChannelCounts = new Map();
  readonly #abort = new AbortController();
  #stop: () => void = () => {};
  #loop: Promise<void> = Promise.resolve();
  readonly #log: Logger;

  private constructor(log: Logger) {
    this.#log = log;
  }

  static async start(nc: NatsConnection, log: Logger): Promise<ChannelIndex> {
    const index = new ChannelIndex(log);
    const kv = await new Kvm(jetstream(nc)).open(buckets.members);
    let watch = await kv.watch();
    index.#stop = () => watch.stop();
    index.#loop = (async () => {
      for (;;) {
        try {
          for await (const entry of watch) index.#apply(entry);
        } catch (err) {
          log.debug({ err }, "dashboard: members watch ended");
        }
        if (index.#abort.signal.aborted) return;
        try {
          watch = await retry(() => kv.watch(), {
            what: "watching presence_members again (dashboard)",
            minDelayMs: 200,
            maxDelayMs: 5000,
            signal: index.#abort.signal,
            log,
          });
        } catch {
          return; // stopped
        }
        index.#members.clear();
        index.#channels.clear();
      }
    })();
    return index;
  }

  /** The `n` channels with the most visible members (largest first, then by name). */
  top(n: number): ChannelCount[] {
    const entries = (function* (channels: ChannelCounts) {
      for (const [channel, c] of channels) yield { channel, num_clients: c.members, num_users: c.users.size };
    })(this.#channels);
    return topN(
      entries,
      n,
      (a, b) => a.num_clients > b.num_clients || (a.num_clients === b.num_clients && a.channel < b.channel),
    );
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    this.#stop();
    await this.#loop;
  }

  #apply(entry: KvWatchEntry): void {
    let doc: MemberDoc | undefined;
    if (entry.operation === "PUT") {
      try {
        const value: unknown = entry.json();
        if (checkMember.explain(value) === undefined) doc = value as MemberDoc;
      } catch {
        this.#log.debug({ key: entry.key }, "dashboard: a member value that is not JSON");
      }
    }
    this.#remove(entry.key);
    if (doc === undefined || doc.hidden === true) return;
    const { channel, user } = doc;
    this.#members.set(entry.key, { channel, user });
    let c = this.#channels.get(channel);
    if (c === undefined) {
      c = { members: 0, users: new Map() };
      this.#channels.set(channel, c);
    }
    c.members++;
    c.users.set(user, (c.users.get(user) ?? 0) + 1);
  }

  #remove(key: string): void {
    const m = this.#members.get(key);
    if (m === undefined) return;
    this.#members.delete(key);
    const c = this.#channels.get(m.channel);
    if (c === undefined) return;
    c.members--;
    const n = (c.users.get(m.user) ?? 1) - 1;
    if (n === 0) c.users.delete(m.user);
    else c.users.set(m.user, n);
    if (c.members === 0) this.#channels.delete(m.channel);
  }
}
