/**
 * The dashboard's own NATS connection (as the gateway's NATS user), opened while a dashboard is
 * open, so that a gateway whose dashboard nobody opens pays nothing for it, and the dashboard's
 * traffic (every live event, the workers' stats) never queues behind or ahead of the API's:
 * - the live tail: one subscription to every public event;
 * - the workers' stats: `herald.admin.stats.<component>`, every process answering;
 * - the dead-letter stream's counts; the top channels (channel-index.ts);
 * - one user's `presence_status` value (its live conns), read on demand.
 */
import {
  buckets,
  COMPONENTS,
  type Config,
  encodeToken,
  internalSubjects,
  type StatusDoc,
  subjects,
} from "@herald/protocol";
import { connectNats, type Logger } from "@herald/runtime";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { ChannelIndex } from "./channel-index.js";
import { deadLetterCounts } from "./dead-letters.js";
import type { Tail } from "./tail.js";

/** How long a stats round waits: for the first answer, and for another after the last. */
const STATS_MAX_WAIT_MS = 500;
const STATS_STALL_MS = 100;

export class Link {
  readonly #nc: NatsConnection;
  readonly #sub: Subscription;
  readonly #jsm: JetStreamManager;
  readonly #index: ChannelIndex;
  #status: Promise<KV> | undefined;

  private constructor(nc: NatsConnection, sub: Subscription, jsm: JetStreamManager, index: ChannelIndex) {
    this.#nc = nc;
    this.#sub = sub;
    this.#jsm = jsm;
    this.#index = index;
  }

  /** Connects (waiting for NATS as long as it takes) and starts the tail and the channel index. */
  static async open(config: Config, tail: Tail, log: Logger): Promise<Link> {
    const nc = await connectNats(config.nats, "herald-gateway-dashboard", log);
    try {
      const sub = nc.subscribe(subjects.allEvents, {
        callback: (err, m) => {
          if (err === null) tail.offer(m.subject, m.data);
        },
      });
      const jsm = await jetstreamManager(nc);
      const index = await ChannelIndex.start(nc, log);
      return new Link(nc, sub, jsm, index);
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  /** Every worker process's stats reply (JSON), as many as answer in time. */
  async stats(): Promise<unknown[]> {
    const replies: unknown[] = [];
    await Promise.all(
      COMPONENTS.map(async (component) => {
        try {
          const answers = await this.#nc.requestMany(internalSubjects.stats(component), "", {
            strategy: "stall",
            stall: STATS_STALL_MS,
            maxWait: STATS_MAX_WAIT_MS,
          });
          for await (const m of answers) {
            try {
              replies.push(m.json());
            } catch {
              // not JSON (a no-responders status): not a worker
            }
          }
        } catch {
          // no process of this component answers
        }
      }),
    );
    return replies;
  }

  deadLetters(): ReturnType<typeof deadLetterCounts> {
    return deadLetterCounts(this.#jsm);
  }

  topChannels(n: number): ReturnType<ChannelIndex["top"]> {
    return this.#index.top(n);
  }

  /** The user's `presence_status` value, or undefined when there is none. */
  async statusDoc(user: string): Promise<StatusDoc | undefined> {
    this.#status ??= new Kvm(jetstream(this.#nc)).open(buckets.status);
    const kv = await this.#status;
    let doc: StatusDoc | undefined;
    // A one-key history: the gateway's user may create consumers on the bucket, not get from it.
    for await (const entry of await kv.history({ key: encodeToken(user) })) {
      doc = entry.operation === "PUT" ? (entry.json() as StatusDoc) : undefined;
    }
    return doc;
  }

  async close(): Promise<void> {
    this.#sub.unsubscribe();
    await this.#index.stop();
    await this.#nc.drain().catch(() => this.#nc.close());
  }
}
