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
const VERDICTS_PREFIX = "herald.verdict.";

/**
 * Internal subjects. The events stream stores public events under `herald.ev.>` and the server
 * republishes each stored event once to the matching public `presence.events.>` subject, so a
 * live subscriber sees exactly the stored, de-duplicated events in stream order. Beside them,
 * in the same stream and so in the same order, `herald.fact.>` holds what only trusted
 * services may see (an invisible user's real status, per-conn members): the projections'
 * input, never republished.
 */
export const internalSubjects = {
  /** Command batches (msgpack) of one partition: appended by gateways. */
  commands: (partition: number): string => `${COMMANDS_PREFIX}${partition}.c`,
  allCommands: `${COMMANDS_PREFIX}*.c`,
  /** Clock ticks of one partition: appended by the partition's owner (presence-actor). */
  ticks: (partition: number): string => `${COMMANDS_PREFIX}${partition}.t`,
  allTicks: `${COMMANDS_PREFIX}*.t`,
  /** Everything of one partition, commands and ticks, in stream order. */
  partition: (partition: number): string => `${COMMANDS_PREFIX}${partition}.*`,
  /**
   * Everything of every partition: the command stream's one subject filter (on nats-server 2.9 a
   * consumer's filter must fall within one of its stream's subjects).
   */
  allPartitions: `${COMMANDS_PREFIX}*.*`,
  /**
   * Verdicts on commands that asked for one (`reply`), published by the owner of the user's
   * partition when it applies them, to the gateway waiting for them (core NATS).
   */
  verdicts: (gateway: string): string => `${VERDICTS_PREFIX}${gateway}`,
  allVerdicts: `${VERDICTS_PREFIX}*`,
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
  /**
   * Operator requests to every process of a component (each one answers): `stats` replies with
   * the process's counters and memory. The body may be `{"gc": true}` to collect garbage first
   * (when the process runs with `--expose-gc`), for memory measurements.
   */
  stats: (component: string): string => `herald.admin.stats.${component}`,
  /** Messages a component could not decode or apply, with the reason in a header. */
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

/**
 * How old a delete marker of the members bucket gets before status-projector removes it. A
 * gateway whose watch of the bucket was cut off for a third of this loads the bucket again
 * rather than resuming, since a leave it missed may have left no marker to see.
 */
export const MEMBER_MARKER_MAX_AGE_MS = 15 * 60_000;

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
  /**
   * On every KV value status-projector writes: the events-stream sequence of the fact the value
   * comes from; a key never goes back to an earlier one.
   */
  factSeq: "Herald-Fact-Seq",
  /** On a dead letter: why the message could not be used. */
  deadLetterReason: "Herald-Dead-Letter-Reason",
  /** On a dead letter: the stream, sequence and subject of the original message. */
  sourceStream: "Herald-Source-Stream",
  sourceSeq: "Herald-Source-Seq",
  sourceSubject: "Herald-Source-Subject",
  /** On a dead letter whose payload was cut to fit: the original payload's size in bytes. */
  deadLetterTruncated: "Herald-Dead-Letter-Truncated",
} as const;

/** The stream behind a KV bucket, and the subject of one key (NATS KV conventions). */
export const kvNames = {
  stream: (bucket: string): string => `KV_${bucket}`,
  subject: (bucket: string, key: string): string => `$KV.${bucket}.${key}`,
  /** The header that marks a delete (`DEL`) or purge (`PURGE`) of a key. */
  operationHeader: "KV-Operation",
  deleteOperation: "DEL",
} as const;

/** The stream behind an object store. */
export const objectStoreStream = (name: string): string => `OBJ_${name}`;

/** presence-actor's keys and object names per partition. */
export const partitionKeys = {
  /** `herald_leases`: the partition's lease. */
  lease: (p: number): string => `p${p}`,
  /** `herald_leases`: a live presence-actor process (the prefix, and one owner's key). */
  ownerPrefix: "o.",
  owner: (owner: string): string => `o.${owner}`,
  /** `herald_checkpoints`: the partition's checkpoint. */
  checkpoint: (p: number): string => `p${p}`,
  /** `herald_snapshots`: the partition's snapshot object. */
  snapshot: (p: number): string => `p${p}`,
} as const;
