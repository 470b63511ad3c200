/**
 * Every internal subject, stream, consumer and bucket name Herald uses, defined once
 * (`herald.*`, `HERALD_*`, `herald_*`). The public names fixed by CONTRACT.md are in
 * @herald/contract (`subjects`, `STATUS_BUCKET`).
 */
import { encodeToken, STATUS_BUCKET } from "@herald/contract";

/** The worker processes (CONTRACT.md §2): each runs as `node packages/<name>/dist/main.js`. */
export const COMPONENTS = ["gateway", "presence-actor", "status-projector"] as const;
export type Component = (typeof COMPONENTS)[number];

const INTERNAL_EVENTS_PREFIX = "herald.ev.";
const COMMANDS_PREFIX = "herald.cmd.";
const FACTS_PREFIX = "herald.fact.";

/**
 * Internal subjects. The events stream stores public events under `herald.ev.>` and the server
 * republishes each stored event once to the matching public `presence.events.>` subject, so a
 * live subscriber sees exactly the stored, de-duplicated events in stream order. Beside them,
 * in the same stream and so in the same order, `herald.fact.>` holds what only trusted
 * services may see (an invisible user's real status, per-conn members): the projections'
 * input, never republished.
 */
export const internalSubjects = {
  /** One command batch (msgpack) for one partition of the command stream. */
  commands: (partition: number): string => `${COMMANDS_PREFIX}${partition}`,
  allCommands: `${COMMANDS_PREFIX}*`,
  userEvent: (user: string): string => `${INTERNAL_EVENTS_PREFIX}user.${encodeToken(user)}`,
  channelEvent: (channel: string): string => `${INTERNAL_EVENTS_PREFIX}channel.${encodeToken(channel)}`,
  allEvents: `${INTERNAL_EVENTS_PREFIX}>`,
  allUserEvents: `${INTERNAL_EVENTS_PREFIX}user.*`,
  /** The new `presence_status` document of a user. */
  userFact: (user: string): string => `${FACTS_PREFIX}user.${encodeToken(user)}`,
  /**
   * An empty message readers of facts skip. status-projector stores one when its consumer may
   * be stalled: on nats-server 2.9 a filtered consumer that lost its server (or was asked for
   * its info) while delivering can wait for the next stored fact before it delivers again.
   */
  factNudge: `${FACTS_PREFIX}nudge`,
  /** The new state of one channel member (or its removal). */
  memberFact: (channel: string, user: string, conn: string): string =>
    `${FACTS_PREFIX}member.${memberKey(channel, user, conn)}`,
  allFacts: `${FACTS_PREFIX}>`,
  /** Messages that could not be decoded or applied, with the reason in a header. */
  /**
   * Operator requests to every process of a component (each one answers): `stats` replies with
   * the process's counters and memory. The body may be `{"gc": true}` to collect garbage first
   * (when the process runs with `--expose-gc`), for memory measurements.
   */
  stats: (component: string): string => `herald.admin.stats.${component}`,
  deadLetter: (source: string): string => `herald.dlq.${source}`,
  allDeadLetters: "herald.dlq.>",
} as const;

/** JetStream stream names. */
export const streams = {
  /** Stamped command batches, partitioned by user: the input of presence-actor. */
  commands: "HERALD_COMMANDS",
  /** Decided events (status, join, update, leave): the truth the projections fold. */
  events: "HERALD_EVENTS",
  /** Messages found unusable on another stream. */
  deadLetters: "HERALD_DLQ",
} as const;

/** Durable consumer names. */
export const consumers = {
  /** status-projector's consumer of the events stream. */
  projector: "herald-status-projector",
  /** presence-actor's consumer of one command partition. */
  actor: (partition: number): string => `herald-actor-${partition}`,
} as const;

/** KV bucket names. `presence_status` is public (CONTRACT.md §6); the rest are internal. */
export const buckets = {
  /** key token(user) → the user's status document. */
  status: STATUS_BUCKET,
  /** key `token(channel).token(user).token(conn)` → one channel member. */
  members: "presence_members",
  /** presence-actor partition leases (compare-and-set on revision). */
  leases: "herald_leases",
  /**
   * presence-actor checkpoints, key `p<n>`: the owner and the last command-stream sequence
   * whose outputs are stored. Written by compare-and-set on the revision, which fences a
   * stale owner: a new owner's claim moves the revision, so the old owner's next write fails.
   */
  checkpoints: "herald_checkpoints",
} as const;

/** Object store buckets (internal). */
export const objectStores = {
  /** presence-actor partition snapshots, object `p<n>`: state plus the sequence it covers. */
  snapshots: "herald_snapshots",
} as const;

/** The `presence_members` key of one member. */
export function memberKey(channel: string, user: string, conn: string): string {
  return `${encodeToken(channel)}.${encodeToken(user)}.${encodeToken(conn)}`;
}

/** Headers Herald sets on internal messages. */
export const headers = {
  /** JetStream de-duplication id. */
  msgId: "Nats-Msg-Id",
  /** Why a message was dead-lettered. */
  deadLetterReason: "Herald-Dead-Letter-Reason",
  /**
   * On every KV value status-projector writes (and its dead letters): the events-stream
   * sequence of the fact the value comes from; a key never goes back to an earlier one.
   */
  factSeq: "Herald-Fact-Seq",
  /** The subject of the original message, on a dead letter. */
  sourceSubject: "Herald-Source-Subject",
} as const;
