/**
 * One timer scheduler per process: every deadline of every user (conn ttl, away, grace, manual
 * expiry) in one binary min-heap, fired by whoever drives time (the command stream's stamps,
 * or the wall clock when idle) — never a `setTimeout` per user.
 *
 * Timers due at the same time fire in key order. Moving a deadline later (a heartbeat) is O(1): only the key's current deadline changes; the
 * heap entry keeps its earlier time, and when it comes due it is pushed again for the real one.
 */

interface Entry<T> {
  /** The deadline that counts. */
  at: number;
  /** The time of this key's entry in the heap (≤ at). */
  heapAt: number;
  payload: T;
}

interface Node {
  at: number;
  key: string;
}

/**
 * Heap order: by time, then by key, so timers due at the same time fire in the same order
 * whatever the order they were scheduled in — a partition restored from a snapshot fires them
 * exactly as the partition it was taken from.
 */
const before = (a: Node, b: Node): boolean => a.at < b.at || (a.at === b.at && a.key < b.key);

export interface Due<T> {
  readonly key: string;
  readonly at: number;
  readonly payload: T;
}

export class Scheduler<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #heap: Node[] = [];

  /** Live timers. */
  get size(): number {
    return this.#entries.size;
  }

  /** Sets `key` to fire at `at` with `payload`, replacing its previous deadline. */
  schedule(key: string, at: number, payload: T): void {
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.heapAt <= at) {
      entry.at = at;
      entry.payload = payload;
      return;
    }
    this.#entries.set(key, { at, heapAt: at, payload });
    this.#push({ at, key });
  }

  cancel(key: string): void {
    this.#entries.delete(key);
  }

  /** The deadline of `key`, if scheduled. */
  deadline(key: string): number | undefined {
    return this.#entries.get(key)?.at;
  }

  /** The payload of `key`, if scheduled. */
  payload(key: string): T | undefined {
    return this.#entries.get(key)?.payload;
  }

  /** The earliest deadline, if any (may be a stale heap time; never later than the real one). */
  peek(): number | undefined {
    return this.#heap[0]?.at;
  }

  /** Removes and returns the earliest timer due at or before `now`, or undefined. */
  next(now: number): Due<T> | undefined {
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined || top.at > now) return undefined;
      this.#pop();
      const entry = this.#entries.get(top.key);
      if (entry === undefined || entry.heapAt !== top.at) continue; // cancelled or replaced
      if (entry.at > top.at) {
        // Moved later since it was pushed: wait for the real deadline.
        entry.heapAt = entry.at;
        this.#push({ at: entry.at, key: top.key });
        continue;
      }
      this.#entries.delete(top.key);
      return { key: top.key, at: entry.at, payload: entry.payload };
    }
  }

  /** Every live timer (for snapshots). */
  *entries(): IterableIterator<Due<T>> {
    for (const [key, e] of this.#entries) yield { key, at: e.at, payload: e.payload };
  }

  #push(node: Node): void {
    const h = this.#heap;
    h.push(node);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as Node;
      if (!before(node, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = node;
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop() as Node;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let min = last;
      const ln = h[l];
      const rn = h[r];
      if (ln !== undefined && before(ln, min)) {
        m = l;
        min = ln;
      }
      if (rn !== undefined && before(rn, min)) m = r;
      if (m === i) break;
      h[i] = h[m] as Node;
      i = m;
    }
    h[i] = last;
  }
}
