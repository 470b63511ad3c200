/** Names and limits of status-projector, defined once (shared header names live in protocol). */
import { headers } from "@herald/protocol";

/** See `headers.factSeq` in @herald/protocol. */
export const FACT_SEQ_HEADER = headers.factSeq;
export const SOURCE_SUBJECT_HEADER = headers.sourceSubject;

/** NATS KV conventions (the KV client does not export them). */
export const kv = {
  /** The header that marks a delete (`DEL`) or purge (`PURGE`) of a key. */
  operationHeader: "KV-Operation",
  deleteOperation: "DEL",
  /** The stream behind a bucket. */
  stream: (bucket: string): string => `KV_${bucket}`,
  /** The subject a key's values are stored under. */
  subject: (bucket: string, key: string): string => `$KV.${bucket}.${key}`,
} as const;

/** The `source` of status-projector's dead letters (`herald.dlq.status-projector`). */
export const DEAD_LETTER_SOURCE = "status-projector";

export const limits = {
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
  /** Longest dead-letter reason kept (header values are bounded in practice). */
  reasonMaxChars: 1000,
} as const;

/** The rebuild of the projections (rebuild.ts). */
export const rebuildLimits = {
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
