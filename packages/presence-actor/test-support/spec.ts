/**
 * Test support for the pure core (outside src/, so it is never built into dist/): a given/when/then specification
 * over one fresh {@link Partition} (emmett's `DeciderSpecification`), command builders, and the
 * decoding of what the partition appends. Time is simulated: it moves only through command
 * stamps and `{advance: t}` steps, never through real timers.
 *
 * Assertions use `node:assert/strict`, so this file needs no test runner (vitest shows the diff).
 */
import { deepStrictEqual, equal } from "node:assert/strict";
import {
  type ChannelEvent,
  type Command,
  compile,
  decodeFact,
  type Fact,
  internalSubjects,
  json,
  type MemberDoc,
  type PresenceEvent,
  type StatusDoc,
  type StatusEvent,
  schemas,
} from "@herald/protocol";
import { type Output as Appended, Partition, type PartitionOptions } from "../src/partition.js";

export type PublicEvent = StatusEvent | ChannelEvent;

/** One step of a scenario: a stamped command, or the clock moving to `advance` with no command. */
export type Step = Command | { readonly advance: number };

/** One appended message, decoded and checked against its schema and subject. */
export type Output =
  | { readonly kind: "event"; readonly subject: string; readonly msgId: string; readonly event: PublicEvent }
  | { readonly kind: "fact"; readonly subject: string; readonly msgId: string; readonly fact: Fact };

/** Settings of the tests unless one says otherwise. */
export const OPTS: PartitionOptions = { awayAfterMs: 60_000, graceMs: 5_000 };
/** Default `ttl_ms` of the command builders. */
export const TTL = 30_000;
/** A start time on a whole second, so `online`/`active` seconds are easy to read. */
export const T0 = 1_700_000_000_000;
/** Unix seconds, as in `online`/`active`. */
export const sec = (ms: number): number => Math.floor(ms / 1000);

const checkEvent = compile(schemas.PresenceEvent);
const FACTS = internalSubjects.allFacts.slice(0, -1); // "herald.fact."

/** Decodes one output; throws when it is not a valid event or fact or sits on the wrong subject. */
export function decode(o: Appended): Output {
  if (o.subject.startsWith(FACTS)) {
    const fact = decodeFact(o.data);
    const subject =
      fact.type === "user"
        ? internalSubjects.userFact(fact.user)
        : internalSubjects.memberFact(fact.channel, fact.user, fact.conn);
    equal(o.subject, subject, "fact on the wrong subject");
    return { kind: "fact", subject: o.subject, msgId: o.msgId, fact };
  }
  const value = json.decode(o.data);
  const problem = checkEvent.explain(value, "event");
  if (problem !== undefined) throw new Error(`invalid event ${JSON.stringify(value)}: ${problem}`);
  const event = value as PresenceEvent;
  const subject =
    event.type === "status"
      ? internalSubjects.userEvent(event.user)
      : internalSubjects.channelEvent(event.channel);
  equal(o.subject, subject, "event on the wrong subject");
  return { kind: "event", subject: o.subject, msgId: o.msgId, event };
}

export const eventsOf = (outputs: readonly Output[]): PublicEvent[] =>
  outputs.flatMap((o) => (o.kind === "event" ? [o.event] : []));
export const factsOf = (outputs: readonly Output[]): Fact[] =>
  outputs.flatMap((o) => (o.kind === "fact" ? [o.fact] : []));

/** A partition driven step by step, keeping everything it appended. */
export class Simulation {
  readonly partition: Partition;
  /** Everything appended so far, raw and in order. */
  readonly raw: Appended[] = [];
  /** The same, decoded. */
  readonly log: Output[] = [];
  /** Commands refused (they changed nothing), by the index of the command among all commands. */
  readonly refusals: { readonly command: number; readonly code: number; readonly message: string }[] = [];
  #commands = 0;

  constructor(opts: PartitionOptions = OPTS, partition?: Partition) {
    this.partition = partition ?? new Partition(0, opts);
  }

  /** A simulation that goes on from here with `partition` (say, restored from a snapshot). */
  resumeFrom(partition: Partition): Simulation {
    const next = new Simulation(OPTS, partition);
    next.#commands = this.#commands;
    return next;
  }

  /** Runs one step; a command's outputs get ids based on `c<n>` (its index among commands). */
  run(step: Step): Output[] {
    const out: Appended[] = [];
    if ("advance" in step) this.partition.advance(step.advance, out);
    else {
      const command = this.#commands++;
      const refusal = this.partition.apply(step, `c${command}`, out);
      if (refusal !== undefined) this.refusals.push({ command, ...refusal });
    }
    const decoded = out.map(decode);
    this.raw.push(...out);
    this.log.push(...decoded);
    return decoded;
  }

  runAll(steps: readonly Step[]): Output[] {
    return steps.flatMap((s) => this.run(s));
  }
}

export interface Then {
  readonly sim: Simulation;
  /** What the `when` steps appended. */
  readonly outputs: readonly Output[];
  readonly events: readonly PublicEvent[];
  readonly facts: readonly Fact[];
  /** Partition counters just before the `when` steps. */
  readonly statsBefore: Readonly<Partition["stats"]>;
  /**
   * Asserts the public events the `when` steps produced, in order, and, when given, the facts.
   * Returns nothing on purpose: an object with a `then` must not be returned from a test.
   */
  then(events: readonly PublicEvent[], expected?: { readonly facts?: readonly Fact[] }): void;
}

export interface When {
  when(step: Step | readonly Step[]): Then;
}

/** `given(history).when(step).then(events, {facts})` over a fresh partition. */
export function given(history: readonly Step[], opts: PartitionOptions = OPTS): When {
  return {
    when(step) {
      const sim = new Simulation(opts);
      sim.runAll(history);
      const statsBefore = { ...sim.partition.stats };
      const outputs = Array.isArray(step) ? sim.runAll(step) : sim.run(step as Step);
      const events = eventsOf(outputs);
      const facts = factsOf(outputs);
      return {
        sim,
        outputs,
        events,
        facts,
        statsBefore,
        // biome-ignore lint/suspicious/noThenProperty: the given/when/then vocabulary; then() returns void.
        then(expectedEvents, expected) {
          deepStrictEqual(events, expectedEvents);
          if (expected?.facts !== undefined) deepStrictEqual(facts, expected.facts);
        },
      };
    },
  };
}

// ---- command builders ---------------------------------------------------------------------

type Cmd<T extends Command["type"]> = Extract<Command, { type: T }>;
type Data = Record<string, unknown>;

export const heartbeat = (user: string, conn: string, at: number, ttl = TTL): Cmd<"heartbeat"> => ({
  type: "heartbeat",
  user,
  conn,
  ttl_ms: ttl,
  at_ms: at,
});
export const disconnect = (user: string, conn: string, at: number): Cmd<"disconnect"> => ({
  type: "disconnect",
  user,
  conn,
  at_ms: at,
});
/** `update_user_status` of one user. */
export const activity = (user: string, at: number): Cmd<"activity"> => ({
  type: "activity",
  user,
  at_ms: at,
});
/** `delete_user_status` of one user. */
export const forget = (user: string, at: number): Cmd<"forget"> => ({ type: "forget", user, at_ms: at });
export const join = (
  user: string,
  conn: string,
  channel: string,
  at: number,
  data: Data = {},
  ttl = TTL,
): Cmd<"join"> => ({ type: "join", user, conn, channel, data, ttl_ms: ttl, at_ms: at });
export const update = (
  user: string,
  conn: string,
  channel: string,
  at: number,
  data: Data,
  ttl = TTL,
): Cmd<"update"> => ({ type: "update", user, conn, channel, data, ttl_ms: ttl, at_ms: at });
export const leave = (user: string, conn: string, channel: string, at: number, ttl = TTL): Cmd<"leave"> => ({
  type: "leave",
  user,
  conn,
  channel,
  ttl_ms: ttl,
  at_ms: at,
});
export const setStatus = (
  user: string,
  status: "dnd" | "invisible" | "auto",
  at: number,
  extra: { text?: string; emoji?: string; expires_at_ms?: number } = {},
): Cmd<"set_status"> => ({ type: "set_status", user, status, ...extra, at_ms: at });
export const advance = (t: number): Step => ({ advance: t });

// ---- expected outputs ---------------------------------------------------------------------

type Extra<T> = Partial<Omit<T, "type">>;

export const statusEvent = (
  user: string,
  status: StatusEvent["status"],
  prev: StatusEvent["prev"],
  at: number,
  extra: Extra<StatusEvent> = {},
): StatusEvent => ({ type: "status", user, status, prev, at_ms: at, ...extra });
export const joinEvent = (
  channel: string,
  user: string,
  conn: string,
  at: number,
  extra: { data?: Data; first?: true } = {},
): ChannelEvent => {
  const e: ChannelEvent = { type: "join", channel, user, conn, data: extra.data ?? {}, at_ms: at };
  if (extra.first === true) e.first = true;
  return e;
};
export const updateEvent = (
  channel: string,
  user: string,
  conn: string,
  at: number,
  data: Data,
): ChannelEvent => ({
  type: "update",
  channel,
  user,
  conn,
  data,
  at_ms: at,
});
export const leaveEvent = (
  channel: string,
  user: string,
  conn: string,
  at: number,
  reason: "leave" | "disconnect" | "timeout",
  extra: { last?: true } = {},
): ChannelEvent => {
  const e: ChannelEvent = { type: "leave", channel, user, conn, reason, at_ms: at };
  if (extra.last === true) e.last = true;
  return e;
};
export const userFact = (user: string, doc: StatusDoc | null): Fact => ({ type: "user", user, doc });
export const memberFact = (channel: string, user: string, conn: string, doc: MemberDoc | null): Fact => ({
  type: "member",
  channel,
  user,
  conn,
  doc,
});
