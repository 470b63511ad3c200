/**
 * The dashboard's live part, one per gateway: while a page is open (and for a while after the
 * last one left, so a reload finds its charts) it samples once a second — the gateway's
 * registry, the workers' stats, the dead letters, the top channels, the live events counted —
 * and sends the tick to every open page, and each page's filtered tail four times a second.
 * Idle, it holds nothing: no NATS connection, no subscription, no timer.
 */
import type { EventBatch, Hello, TailFilter, Tick } from "@herald/dashboard";
import type { Config } from "@herald/protocol";
import type { Logger, Registry } from "@herald/runtime";
import { Link } from "./link.js";
import { readRegistry } from "./registry.js";
import { Sampler, SERIES_WINDOW_MS } from "./sampler.js";
import { Tail } from "./tail.js";

export const TICK_MS = 1000;
const FLUSH_MS = 250;
/** The dead-letter stream is read every this many ticks. */
const DEAD_LETTERS_EVERY = 5;
const TOP_CHANNELS = 10;
/** How long the first tick waits for the NATS link, so that the workers show at once. */
const FIRST_TICK_WAIT_MS = 300;

export interface MonitorOptions {
  readonly config: Config;
  readonly registry: Registry;
  readonly log: Logger;
  /** How long it keeps sampling after the last page left (default five minutes). */
  readonly lingerMs?: number;
}

/** An open page. */
export interface Page {
  tick(t: Tick): void;
  events(b: EventBatch): void;
}

const delay = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

export class Monitor {
  readonly #o: MonitorOptions;
  readonly #pages = new Set<Page>();
  readonly #tail = new Tail();
  #sampler: Sampler;
  #latest: Tick | undefined;
  #waiting: ((t: Tick) => void)[] = [];
  #running = false;
  /** Moves on at every start and stop: a tick of an earlier run ends its loop. */
  #generation = 0;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #flusher: NodeJS.Timeout | undefined;
  #lastActive = 0;
  #linkTicks = 0;
  #link: Link | undefined;
  #linking: Promise<Link | undefined> | undefined;

  constructor(o: MonitorOptions) {
    this.#o = o;
    this.#sampler = new Sampler(o.config.partitions);
  }

  /** A page follows the ticks and the tail through `filter`: what it gets first, and how it leaves. */
  attach(page: Page, filter: TailFilter): { hello: Hello; detach: () => void } {
    this.#pages.add(page);
    const untail = this.#tail.add({ send: (b) => page.events(b) }, filter);
    this.#activate();
    return {
      hello: { series: [...this.#sampler.series], tick: this.#latest ?? null, window_ms: SERIES_WINDOW_MS },
      detach: () => {
        this.#pages.delete(page);
        untail();
        this.#lastActive = Date.now();
      },
    };
  }

  /** The latest tick; after a start, the first one (undefined if none comes within `timeoutMs`). */
  latest(timeoutMs = 3000): Promise<Tick | undefined> {
    this.#activate();
    if (this.#latest !== undefined) return Promise.resolve(this.#latest);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      this.#waiting.push((t) => {
        clearTimeout(timer);
        resolve(t);
      });
    });
  }

  /** The NATS link once it is up (undefined if it is not within `timeoutMs`). */
  async link(timeoutMs = 2000): Promise<Link | undefined> {
    this.#activate();
    if (this.#link !== undefined) return this.#link;
    return Promise.race([
      this.#linking ?? Promise.resolve(undefined),
      delay(timeoutMs).then(() => undefined),
    ]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#deactivate();
  }

  #activate(): void {
    this.#lastActive = Date.now();
    if (this.#running || this.#closed) return;
    this.#running = true;
    const generation = ++this.#generation;
    this.#connect();
    this.#schedule(generation, 0);
    this.#flusher = setInterval(() => this.#tail.flush(), FLUSH_MS);
    this.#flusher.unref();
  }

  #schedule(generation: number, ms: number): void {
    this.#timer = setTimeout(() => void this.#tick(generation), ms);
    this.#timer.unref();
  }

  async #deactivate(): Promise<void> {
    this.#running = false;
    this.#generation++;
    clearTimeout(this.#timer);
    clearInterval(this.#flusher);
    this.#sampler = new Sampler(this.#o.config.partitions);
    this.#latest = undefined;
    const link = this.#link;
    this.#link = undefined;
    this.#linking = undefined;
    this.#tail.takeCount();
    await link?.close();
  }

  #connect(): void {
    if (this.#linking !== undefined) return;
    const log = this.#o.log;
    const linking: Promise<Link | undefined> = Link.open(this.#o.config, this.#tail, log).then(
      async (link) => {
        // Stopped (or stopped and started again) while connecting: this link is not wanted.
        if (!this.#running || this.#linking !== linking) {
          await link.close();
          return undefined;
        }
        this.#link = link;
        return link;
      },
      (err: unknown) => {
        log.warn({ err }, "dashboard: could not open its NATS link; trying again on the next tick");
        if (this.#linking === linking) this.#linking = undefined;
        return undefined;
      },
    );
    this.#linking = linking;
  }

  async #tick(generation: number): Promise<void> {
    const started = Date.now();
    const current = () => this.#running && generation === this.#generation;
    try {
      if (this.#link === undefined) {
        this.#connect();
        if (this.#latest === undefined) await Promise.race([this.#linking, delay(FIRST_TICK_WAIT_MS)]);
      }
      const tick = await this.#sample();
      if (!current()) return;
      this.#latest = tick;
      for (const page of this.#pages) page.tick(tick);
      for (const resolve of this.#waiting.splice(0)) resolve(tick);
    } catch (err) {
      this.#o.log.warn({ err }, "dashboard: a sample failed");
    }
    if (!current()) return;
    const idleMs = Date.now() - this.#lastActive;
    if (this.#pages.size === 0 && idleMs > (this.#o.lingerMs ?? 5 * 60_000)) {
      await this.#deactivate();
      return;
    }
    this.#schedule(generation, Math.max(0, TICK_MS - (Date.now() - started)));
  }

  async #sample(): Promise<Tick> {
    const atMs = Date.now();
    const events = this.#tail.takeCount();
    const registry = await readRegistry(this.#o.registry);
    const link = this.#link;
    let stats: unknown[] | undefined;
    let deadLetters: Tick["dead_letters"] | undefined;
    if (link !== undefined) {
      const due = this.#linkTicks++ % DEAD_LETTERS_EVERY === 0;
      [stats, deadLetters] = await Promise.all([
        link.stats(),
        due
          ? link.deadLetters().catch((err: unknown) => {
              this.#o.log.debug({ err }, "dashboard: could not read the dead-letter stream");
              return null;
            })
          : undefined,
      ]);
    }
    return this.#sampler.next({
      atMs,
      registry,
      events,
      stats,
      deadLetters,
      topChannels: link?.topChannels(TOP_CHANNELS) ?? [],
    });
  }
}
