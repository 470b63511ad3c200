/** Waiting for a condition instead of sleeping for a guess. */
import { StopWaiting, WaitTimeoutError } from "./errors.js";

export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  readonly timeoutMs?: number;
  /** Poll interval (default 25 ms). */
  readonly intervalMs?: number;
  /** Named in the timeout error. */
  readonly what?: string;
}

/**
 * Polls `probe` until it returns a value other than `undefined`/`false` and returns that value.
 * Errors thrown by `probe` count as "not yet" (the last one is reported on timeout), except
 * {@link StopWaiting}, which fails the wait at once.
 */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      if (err instanceof StopWaiting) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `; last error: ${lastError.message}` : "";
      throw new WaitTimeoutError(
        `timed out after ${timeoutMs} ms waiting for ${opts.what ?? "condition"}${why}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * A worker's `fatal` in tests that run a worker in-process: the worker's work stopped, which the
 * test must not miss (thrown from a callback, vitest reports it as an error of the run).
 */
export function failTest(err: Error): never {
  throw new Error(`a worker's loop stopped: ${err.message}`, { cause: err });
}
