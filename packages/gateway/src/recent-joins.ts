/**
 * Joins this gateway appended that its view may not show yet (pure; time is an argument).
 * `update` is refused with 409 when the member is neither in the view nor here, so a client
 * that sends `join` and at once `update` is not refused while the join is still on its way
 * through presence-actor and status-projector. An entry is forgotten when the view shows the
 * member, after `ttlMs`, or when this gateway appends a leave or disconnect of it.
 */
import { encodeToken, memberKey } from "@herald/protocol";

export const DEFAULT_RECENT_JOIN_TTL_MS = 30_000;

interface Entry {
  readonly expiresAtMs: number;
  readonly conn: string;
}

/** Unambiguous: tokens contain no dot. */
function connKey(user: string, conn: string): string {
  return `${encodeToken(user)}.${encodeToken(conn)}`;
}

export class RecentJoins {
  readonly #ttlMs: number;
  /** member key → entry, in insertion (and so expiry) order. */
  readonly #entries = new Map<string, Entry>();
  /** user/conn → member keys, for a disconnect. */
  readonly #byConn = new Map<string, Set<string>>();

  constructor(ttlMs: number = DEFAULT_RECENT_JOIN_TTL_MS) {
    this.#ttlMs = ttlMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Remembers an appended join. */
  joined(channel: string, user: string, conn: string, nowMs: number): void {
    this.#prune(nowMs);
    const key = memberKey(channel, user, conn);
    const ck = connKey(user, conn);
    // Re-inserted at the end, so the map stays in expiry order.
    this.#entries.delete(key);
    this.#entries.set(key, { expiresAtMs: nowMs + this.#ttlMs, conn: ck });
    let keys = this.#byConn.get(ck);
    if (keys === undefined) {
      keys = new Set();
      this.#byConn.set(ck, keys);
    }
    keys.add(key);
  }

  /** True when a join of this member was appended less than ttlMs ago and not undone since. */
  has(key: string, nowMs: number): boolean {
    const entry = this.#entries.get(key);
    return entry !== undefined && entry.expiresAtMs > nowMs;
  }

  /** Forgets one member (an appended leave, or the view now shows it). */
  forget(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    const keys = this.#byConn.get(entry.conn);
    keys?.delete(key);
    if (keys?.size === 0) this.#byConn.delete(entry.conn);
  }

  /** Forgets every member of a conn (an appended disconnect). */
  disconnected(user: string, conn: string): void {
    const ck = connKey(user, conn);
    for (const key of this.#byConn.get(ck) ?? []) this.#entries.delete(key);
    this.#byConn.delete(ck);
  }

  #prune(nowMs: number): void {
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAtMs > nowMs) break;
      this.forget(key);
    }
  }
}
