/**
 * status-projector's tuning, in one place (names live in @herald/protocol). Operators set what
 * they may need to change through the validated configuration; these are the defaults.
 */

import { MEMBER_MARKER_MAX_AGE_MS } from "@herald/protocol";

export const tuning = {
  /** Most facts folded into one batch of KV writes. */
  batchMax: 500,
  /**
   * Most facts fetched ahead of the batch being applied (the next fetch runs while a batch is
   * applied; it asks for the room left).
   */
  queueMax: 1000,
  /**
   * How long a fetch waits for facts. Short, so that a stopping projector waits little for its
   * last pull request to end (nats-server 2.9 delivers to a pull request until it expires or is
   * filled, even when its subscriber is gone).
   */
  fetchExpiresMs: 1000,
  /**
   * The consumer's max_ack_pending: the most facts delivered and not yet acknowledged, over
   * every process on the durable (each holds at most `queueMax` plus the batch in hand).
   */
  maxAckPending: 5000,
  /** The consumer's ack_wait: a batch not acked in time is delivered again. */
  ackWaitMs: 30_000,
  /** KV writes of one batch in flight at once (distinct keys, so order does not matter). */
  writeConcurrency: 64,
  /** Keys whose last written state a projector remembers, to write them without a read. */
  knownKeys: 100_000,
  /** Read-and-write attempts on one key when other writers keep changing it. */
  casAttempts: 10,
  /** Retry backoff after a failed batch. */
  retryMinMs: 100,
  retryMaxMs: 2000,
  /** How long `close()` waits for the batch in hand. */
  closeTimeoutMs: 2500,
  /**
   * Delete markers of the members bucket older than this are removed (marker-purge.ts): far
   * above how late a fact can be written (ack_wait and the write's retries).
   */
  markerMaxAgeMs: MEMBER_MARKER_MAX_AGE_MS,
  /** How often the members bucket is scanned for old markers. */
  markerPurgeEveryMs: 5 * 60_000,
  /** Purge requests in flight at once. */
  markerPurgeConcurrency: 16,
} as const;

/** The rebuild of the projections (rebuild.ts). */
export const rebuildTuning = {
  /**
   * Facts fetched and folded at once; larger than the live batch, as one rebuild owns its
   * buckets and more coalescing means fewer writes.
   */
  batchMax: 2000,
  /** How long a fetch waits for facts the count promised (it normally returns at once). */
  fetchExpiresMs: 2000,
  /** Invalid facts a rebuild reports one by one (all are counted). */
  invalidReported: 20,
} as const;
