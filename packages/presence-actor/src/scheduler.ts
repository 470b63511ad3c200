/**
 * One timer scheduler per partition: every deadline of every user of the partition (conn ttl,
 * away, grace, manual expiry) in one binary min-heap, fired by whoever drives time (the
 * command stream's stamps, or ticks) — never a `setTimeout` per user.
 *
 * Timers due at the same time fire in key order. Moving a deadline later (a heartbeat) is O(1):
 * only the entry's deadline changes, and the entry keeps its earlier place in the heap until
 * that place comes up, when it moves down to the real deadline. The heap holds the entries
 * themselves (each knows its index), so a timer is one object and one key string.
 */

interface Entry<T> {
  readonly key: string;
  /** The deadline that counts. */
  at: number;
  /** This entry's time in the heap (≤ at: a deadline moved later is fixed when it comes up). */
  heapAt: number;
  payload: T;
  /** Position in the heap array. */
  index: number;
}

/**
 * Heap order: by time, then by key, so timers due at the same time fire in the same order
 * whatever the order they were scheduled in — a partition restored from a snapshot fires them
 * exactly as the partition it was taken from.
 */
const before = <T>(a: Entry<T>, b: Entry<T>): boolean =>
  a.heapAt < b.heapAt || (a.heapAt === b.heapAt && a.key < b.key);

export interface Due<T> {
  readonly key: string;
  readonly at: number;
  readonly payload: T;
}

export class Scheduler<T> {
  readonly #entries = new Map<string, Entry<T>>();
  /** The entries themselves, as a binary min-heap on (heapAt, key); each knows its index. */
  readonly #heap: Entry<T>[] = [];

  /** Live timers. */
  get size(): number {
    return this.#entries.size;
  }

  /** Sets `key` to fire at `at` with `payload`, replacing its previous deadline. */
  schedule(key: string, at: number, payload: T): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      const created: Entry<T> = { key, at, heapAt: at, payload, index: this.#heap.length };
      this.#entries.set(key, created);
      this.#heap.push(created);
      this.#up(created.index);
      return;
    }
    entry.payload = payload;
    this.#move(entry, at);
  }

  /**
   * Moves `key`'s deadline to `at`, keeping its payload, and returns the payload; undefined
   * (and nothing scheduled) when `key` has no timer. One lookup: the heartbeat's hot path.
   */
  reschedule(key: string, at: number): T | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#move(entry, at);
    return entry.payload;
  }

  #move(entry: Entry<T>, at: number): void {
    entry.at = at;
    // Later: O(1), the heap position stays until it comes up. Earlier: move it up now.
    if (at < entry.heapAt) {
      entry.heapAt = at;
      this.#up(entry.index);
    }
  }

  cancel(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#remove(entry.index);
  }

  /** The deadline of `key`, if scheduled. */
  deadline(key: string): number | undefined {
    return this.#entries.get(key)?.at;
  }

  /** The payload of `key`, if scheduled. */
  payload(key: string): T | undefined {
    return this.#entries.get(key)?.payload;
  }

  /** The earliest deadline, if any (may be an earlier heap time; never later than the real one). */
  peek(): number | undefined {
    return this.#heap[0]?.heapAt;
  }

  /** Removes and returns the earliest timer due at or before `now`, or undefined. */
  next(now: number): Due<T> | undefined {
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined || top.heapAt > now) return undefined;
      if (top.at > top.heapAt) {
        // Moved later since it was placed: place it at its real deadline.
        top.heapAt = top.at;
        this.#down(0);
        continue;
      }
      this.#entries.delete(top.key);
      this.#remove(0);
      return { key: top.key, at: top.at, payload: top.payload };
    }
  }

  /** Every live timer (for snapshots). */
  *entries(): IterableIterator<Due<T>> {
    for (const e of this.#entries.values()) yield { key: e.key, at: e.at, payload: e.payload };
  }

  #remove(i: number): void {
    const h = this.#heap;
    const last = h.pop() as Entry<T>;
    if (i === h.length) return;
    h[i] = last;
    last.index = i;
    this.#down(i);
    this.#up(last.index);
  }

  #up(i: number): void {
    const h = this.#heap;
    const e = h[i] as Entry<T>;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as Entry<T>;
      if (!before(e, p)) break;
      h[i] = p;
      p.index = i;
      i = parent;
    }
    h[i] = e;
    e.index = i;
  }

  #down(i: number): void {
    const h = this.#heap;
    const e = h[i] as Entry<T>;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const ln = h[l] as Entry<T>;
      const c = r < n && before(h[r] as Entry<T>, ln) ? r : l;
      const child = h[c] as Entry<T>;
      if (!before(child, e)) break;
      h[i] = child;
      child.index = i;
      i = c;
    }
    h[i] = e;
    e.index = i;
  }
}
