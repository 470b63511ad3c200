/**
 * Retries with exponential backoff, for the few places that must keep trying against NATS (a
 * cluster electing a leader, a server restarting). One wrapper over p-retry, so every retry in
 * Herald logs, backs off and stops the same way.
 */
import pRetry from "p-retry";
import type { Logger } from "pino";

export interface RetryOptions {
  /** What is being tried, for the log line of each failed attempt. */
  readonly what: string;
  /** Attempts in all (default: forever, until `signal` aborts or `retryIf` says no). */
  readonly attempts?: number;
  /** Delay before the second attempt (ms, default 100); it doubles up to `maxDelayMs`. */
  readonly minDelayMs?: number;
  /** Longest delay between attempts (ms, default 2000). */
  readonly maxDelayMs?: number;
  /** Stops retrying (the last error is thrown) once aborted. */
  readonly signal?: AbortSignal;
  /** Whether an error is worth another attempt (default: every error). */
  readonly retryIf?: (err: Error) => boolean;
  readonly log?: Logger;
}

/** Runs `work` until it succeeds; throws the last error when the options say to stop. */
export function retry<T>(work: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const attempts = opts.attempts ?? Number.POSITIVE_INFINITY;
  return pRetry(work, {
    retries: attempts - 1,
    minTimeout: opts.minDelayMs ?? 100,
    maxTimeout: opts.maxDelayMs ?? 2000,
    factor: 2,
    randomize: false,
    ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
    shouldRetry: ({ error }) => opts.signal?.aborted !== true && (opts.retryIf?.(error) ?? true),
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
      if (retriesLeft > 0 && opts.signal?.aborted !== true && (opts.retryIf?.(error) ?? true))
        opts.log?.warn({ err: error, attempt: attemptNumber }, `${opts.what} failed; trying again`);
    },
  });
}

/**
 * The delay before attempt `attempt + 1` (1-based) with the same exponential backoff as
 * {@link retry}, for loops that keep going rather than wrap one call.
 */
export function backoffMs(attempt: number, minDelayMs = 100, maxDelayMs = 2000): number {
  return Math.min(maxDelayMs, minDelayMs * 2 ** Math.max(0, attempt - 1));
}
