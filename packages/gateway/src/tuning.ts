/**
 * The gateway's tuning, in one place. Operators set what they may need to change through the
 * validated configuration; these are defaults that suit every deployment measured so far.
 */
import { MEMBER_MARKER_MAX_AGE_MS } from "@herald/protocol";

export const tuning = {
  /**
   * Commands per command-stream message before it is sent at once: a message is one step of its
   * partition, and 100 new conns (each a transition) keep that step within tens of milliseconds.
   */
  maxBatchCommands: 100,
  /** Approximate bytes per command-stream message before it is sent at once (max_payload is 1 MiB). */
  maxBatchBytes: 256 * 1024,
  /** Batches waiting for JetStream beyond which commands are answered 503. */
  maxPendingBatches: 256,
  /** How long one publish attempt of a batch waits for its ack, and attempts with the same id. */
  publishTimeoutMs: 2000,
  publishAttempts: 3,
  /**
   * How long a command that waits for its owner's verdict (`update`, `join`) waits before it is
   * answered 503: under the usual client request timeout (5 s), so a client gets the 503
   * rather than no answer; a partition takeover (about 6 s) may take longer, and a retry then
   * gets its verdict.
   */
  verdictTimeoutMs: 4000,
  /** How often a KV watch is checked for silence; two quiet checks behind the bucket restart it. */
  watchCheckMs: 2000,
  /**
   * A KV watch that was behind for this long (cut off from the server, or its consumer lost)
   * loads its bucket again instead of resuming: old delete markers of the members bucket are
   * removed after MEMBER_MARKER_MAX_AGE_MS, so a leave missed for longer may leave no trace.
   */
  watchReloadAfterMs: MEMBER_MARKER_MAX_AGE_MS / 3,
  /** Timeout of the view's JetStream requests (making a watch, the bucket's status). */
  watchRequestTimeoutMs: 2000,
  /**
   * History reads from the events stream by its own timestamps, which differ a little from the
   * events' `at_ms`: it starts this much before `since_ms` and stops this much after `until_ms`.
   */
  historyClockSlackMs: 5000,
  /** Users of one `status_at` request read at the same time. */
  statusAtConcurrency: 16,
  /** Events per fetch of a history read, and how long a fetch may wait for pending ones. */
  historyFetchBatch: 500,
  historyFetchExpiresMs: 2000,
  // ---- WebSocket edge (CONTRACT.md §8) ----
  /** Requests per second one socket may send (429 beyond). */
  wsRequestsPerSecond: 50,
  /** A socket must send `connect` within this. */
  wsConnectTimeoutMs: 10_000,
  /** Every socket is pinged this often; one that missed the last pong is dropped. */
  wsPingMs: 20_000,
  /** A socket whose send buffer holds more than this is closed as a slow consumer. */
  wsMaxBufferedBytes: 1024 * 1024,
  /** Users one socket may watch. */
  wsMaxWatched: 1000,
  /** How often the edge looks for conns whose batched heartbeat is due. */
  wsHeartbeatTickMs: 1000,
  /** The follow-up heartbeat after a socket connects (see ws/heartbeats.ts). */
  wsFollowUpMs: 1000,
} as const;
