/**
 * Keeps the conns of a gateway's WebSocket clients live (CONTRACT.md §8): one batched
 * `heartbeat` command per tick for every conn due, not one per socket. A conn is heart-beaten
 * when it connects (by the session itself), once more a second later — so a `disconnect` of the
 * same conn from another gateway (the client moved here) that lands after the first cannot end
 * it for longer than that — and then every third of its ttl.
 */
import type { Logger } from "@herald/runtime";
import type { Dispatcher } from "../dispatcher.js";

/** Heartbeats one command carries at most (CONTRACT.md §4). */
const PER_COMMAND = 1000;

interface Due {
  readonly user: string;
  readonly conn: string;
  at: number;
}

export interface HeartbeatOptions {
  readonly dispatcher: () => Dispatcher | undefined;
  /** The ttl each heartbeat gives (PRESENCE_TTL_MS). */
  readonly ttlMs: number;
  /** How often to look for conns due (1 s). */
  readonly tickMs: number;
  /** When the follow-up heartbeat after connecting goes. */
  readonly followUpMs: number;
  readonly now: () => number;
  readonly log: Logger;
}

export class HeartbeatBatcher {
  readonly #o: HeartbeatOptions;
  readonly #conns = new Map<string, Due>();
  readonly #timer: NodeJS.Timeout;
  readonly #everyMs: number;
  /** Batched commands sent, and those refused or failed. */
  readonly stats = { commands: 0, heartbeats: 0, failed: 0 };

  constructor(o: HeartbeatOptions) {
    this.#o = o;
    this.#everyMs = Math.max(o.tickMs, Math.floor(o.ttlMs / 3));
    this.#timer = setInterval(() => void this.tick(), o.tickMs);
    this.#timer.unref();
  }

  /** A conn that has just been heart-beaten (on connect). */
  add(id: string, user: string, conn: string): void {
    this.#conns.set(id, { user, conn, at: this.#o.now() + this.#o.followUpMs });
  }

  remove(id: string): void {
    this.#conns.delete(id);
  }

  get size(): number {
    return this.#conns.size;
  }

  /** Sends one batched command (per 1000) for the conns due now. */
  async tick(): Promise<void> {
    const dispatcher = this.#o.dispatcher();
    if (dispatcher === undefined) return;
    const now = this.#o.now();
    const due: { user: string; conn: string; ttl_ms: number }[] = [];
    for (const d of this.#conns.values()) {
      if (d.at > now) continue;
      due.push({ user: d.user, conn: d.conn, ttl_ms: this.#o.ttlMs });
      d.at = now + this.#everyMs;
    }
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < due.length; i += PER_COMMAND) {
      const heartbeats = due.slice(i, i + PER_COMMAND);
      this.stats.commands++;
      this.stats.heartbeats += heartbeats.length;
      sends.push(
        dispatcher.handleParams("heartbeat", { heartbeats }).catch((err: unknown) => {
          this.stats.failed++;
          this.#o.log.warn(
            { err, conns: heartbeats.length },
            "a batched heartbeat of WebSocket conns failed",
          );
        }),
      );
    }
    await Promise.all(sends);
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
