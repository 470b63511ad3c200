/**
 * Token buckets per key (a user, a client), pure: time is an argument. A bucket holds up to
 * `rate` tokens (one second's worth) and refills at `rate` per second; a request takes what it
 * needs from each of its buckets, or nothing at all. Buckets that are full are forgotten, so
 * the memory follows the number of keys that sent something in the last second or so.
 */

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
}

export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  #swept = 0;

  constructor(
    /** Tokens per second, and the most a bucket holds. */
    readonly rate: number,
  ) {}

  /** Keys with a bucket now. */
  get size(): number {
    return this.#buckets.size;
  }

  #level(b: Bucket | undefined, now: number): number {
    if (b === undefined) return this.rate;
    return Math.min(this.rate, b.tokens + ((now - b.at) * this.rate) / 1000);
  }

  #charge(key: string, b: Bucket | undefined, n: number, now: number): void {
    const tokens = this.#level(b, now) - n;
    if (b === undefined) this.#buckets.set(key, { tokens, at: now });
    else {
      b.tokens = tokens;
      b.at = now;
    }
  }

  /** Takes `n` tokens from `key`'s bucket when it has them; false (and nothing taken) otherwise. */
  takeOne(key: string, n: number, now: number): boolean {
    this.#sweep(now);
    const b = this.#buckets.get(key);
    if (this.#level(b, now) < n) return false;
    this.#charge(key, b, n, now);
    return true;
  }

  /**
   * Takes `need.get(key)` tokens from each key's bucket when every bucket has them; returns the
   * first key that has not (and takes nothing), or undefined when all were taken.
   */
  take(need: ReadonlyMap<string, number>, now: number): string | undefined {
    this.#sweep(now);
    for (const [key, n] of need) if (this.#level(this.#buckets.get(key), now) < n) return key;
    for (const [key, n] of need) this.#charge(key, this.#buckets.get(key), n, now);
    return undefined;
  }

  /** Forgets the buckets that have refilled, at most once a second. */
  #sweep(now: number): void {
    if (now - this.#swept < 1000) return;
    this.#swept = now;
    for (const [key, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) * this.rate) / 1000 >= this.rate) this.#buckets.delete(key);
    }
  }
}
