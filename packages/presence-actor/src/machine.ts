/**
 * The presence machine: one user's online/away/offline status, grace, channel memberships per
 * conn and manual status, as an xstate v5 machine. It is pure: driven with `transition()` by
 * the caller, which owns time (every event carries `at`, the stamped command time) and the
 * timers (delayed events come back as `xstate.raise` actions with a delay, and `xstate.cancel`
 * actions cancel them).
 *
 * Conn liveness is the one timer not modelled as a delay: a heartbeat of a live conn only
 * moves its deadline (no transition at all — the hot path), so the caller keeps conn deadlines
 * in its scheduler and sends `CONN_TIMEOUT` when one passes. What a timeout means is decided here.
 */
import { assign, setup } from "xstate";

export interface Membership {
  readonly channel: string;
  readonly data: Record<string, unknown>;
  readonly joined_at_ms: number;
  readonly updated_at_ms: number;
}

/** A live conn and its channel memberships. */
export interface Conn {
  readonly id: string;
  readonly channels: readonly Membership[];
}

export interface Manual {
  status: "dnd" | "invisible";
  text?: string;
  emoji?: string;
  expires_at_ms?: number;
}

export interface PresenceContext {
  readonly user: string;
  readonly awayAfterMs: number;
  readonly graceMs: number;
  /**
   * Live conns and their channel memberships, in the order they came. Arrays, not objects keyed
   * by id: a user has a few of each, and objects with keys unique to each user would each get
   * a hidden class of their own in V8 — hundreds of bytes per user with a million users.
   */
  conns: readonly Conn[];
  /** Last activity (ms), if known. */
  activeAt?: number;
  /** When the last conn ended (ms), if the user has been connected. */
  onlineAt?: number;
  manual?: Manual;
}

export interface PresenceInput {
  user: string;
  awayAfterMs: number;
  graceMs: number;
}

type At = { at: number };
export type PresenceEvent =
  /** A conn's first heartbeat (or a join/update/leave of an unknown conn): live, and activity. */
  | ({ type: "CONNECT"; conn: string } & At)
  /** A conn ends: `disconnect` command or its ttl passed. */
  | ({ type: "DISCONNECT"; conn: string } & At)
  | ({ type: "CONN_TIMEOUT"; conn: string } & At)
  | ({ type: "ACTIVITY" } & At)
  | ({ type: "FORGET" } & At)
  | ({ type: "JOIN"; conn: string; channel: string; data: Record<string, unknown> } & At)
  | ({ type: "UPDATE"; conn: string; channel: string; data: Record<string, unknown> } & At)
  | ({ type: "LEAVE"; conn: string; channel: string } & At)
  | ({
      type: "SET_STATUS";
      status: "dnd" | "invisible" | "auto";
      text?: string;
      emoji?: string;
      expires_at_ms?: number;
    } & At);

/** Every event type, including the delayed ones xstate raises (`xstate.after.*`). */
export type PresenceEventType = PresenceEvent["type"];

/** Member data `{}` (the default), shared by every member that has it. */
export const NO_DATA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/** Arrays are built with `concat` (exact length), not spread (which leaves spare capacity). */
const NO_CHANNELS: readonly Membership[] = Object.freeze([]);

export function findConn(conns: PresenceContext["conns"], id: string): Conn | undefined {
  for (const c of conns) if (c.id === id) return c;
  return undefined;
}

function withoutConn(conns: PresenceContext["conns"], id: string): PresenceContext["conns"] {
  return conns.filter((c) => c.id !== id);
}

/** `conns` with conn `id` replaced by (or, when new, followed by) `conn`. */
function withConn(conns: PresenceContext["conns"], id: string, conn: Conn): PresenceContext["conns"] {
  return findConn(conns, id) === undefined
    ? conns.concat([conn])
    : conns.map((c) => (c.id === id ? conn : c));
}

/** A conn ends (disconnect or timeout): the last one starts the grace, keeping the status. */
const connEnds = (grace: "grace.online" | "grace.away") =>
  [
    { guard: "isLastConn", target: grace, actions: "removeConn" },
    { guard: "isLiveConn", actions: "removeConn" },
  ] as const;

export const presenceMachine = setup({
  types: {
    context: {} as PresenceContext,
    events: {} as PresenceEvent,
    input: {} as PresenceInput,
  },
  guards: {
    isNewConn: ({ context, event }) => "conn" in event && findConn(context.conns, event.conn) === undefined,
    isLiveConn: ({ context, event }) => "conn" in event && findConn(context.conns, event.conn) !== undefined,
    isLastConn: ({ context, event }) =>
      "conn" in event && context.conns.length === 1 && context.conns[0]?.id === event.conn,
    isMember: ({ context, event }) =>
      event.type === "UPDATE" &&
      findConn(context.conns, event.conn)?.channels.some((m) => m.channel === event.channel) === true,
    hasExpiry: ({ event }) => event.type === "SET_STATUS" && event.expires_at_ms !== undefined,
    isAuto: ({ event }) => event.type === "SET_STATUS" && event.status === "auto",
  },
  actions: {
    markActive: assign({ activeAt: ({ event }) => event.at }),
    addConn: assign({
      conns: ({ context, event }) =>
        "conn" in event ? context.conns.concat([{ id: event.conn, channels: NO_CHANNELS }]) : context.conns,
    }),
    removeConn: assign({
      conns: ({ context, event }) =>
        "conn" in event ? withoutConn(context.conns, event.conn) : context.conns,
      onlineAt: ({ context, event }) => (context.conns.length === 1 ? event.at : context.onlineAt),
    }),
    join: assign({
      conns: ({ context, event }) => {
        if (event.type !== "JOIN" && event.type !== "UPDATE") return context.conns;
        const conn = findConn(context.conns, event.conn);
        const channels = conn?.channels ?? NO_CHANNELS;
        const before = channels.find((m) => m.channel === event.channel);
        const membership: Membership = {
          channel: event.channel,
          data: event.data,
          joined_at_ms: before?.joined_at_ms ?? event.at,
          updated_at_ms: event.at,
        };
        const next =
          before === undefined
            ? channels.concat([membership])
            : channels.map((m) => (m === before ? membership : m));
        return withConn(context.conns, event.conn, { id: conn?.id ?? event.conn, channels: next });
      },
    }),
    leave: assign({
      conns: ({ context, event }) => {
        if (event.type !== "LEAVE") return context.conns;
        const conn = findConn(context.conns, event.conn);
        const channels = conn?.channels;
        if (conn === undefined || channels?.some((m) => m.channel === event.channel) !== true)
          return context.conns;
        return withConn(context.conns, event.conn, {
          id: conn.id,
          channels: channels.filter((m) => m.channel !== event.channel),
        });
      },
    }),
    forget: assign({ activeAt: undefined, onlineAt: undefined }),
    setManual: assign({
      manual: ({ event }) => {
        if (event.type !== "SET_STATUS" || event.status === "auto") return undefined;
        const manual: Manual = { status: event.status };
        if (event.text !== undefined) manual.text = event.text;
        if (event.emoji !== undefined) manual.emoji = event.emoji;
        if (event.expires_at_ms !== undefined) manual.expires_at_ms = event.expires_at_ms;
        return manual;
      },
    }),
    clearManual: assign({ manual: undefined }),
  },
  delays: {
    awayAfter: ({ context }) => context.awayAfterMs,
    /** What remains of awayAfter since the last activity (a user in grace turns away on time too). */
    awayRemaining: ({ context, event }) =>
      Math.max(0, (context.activeAt ?? 0) + context.awayAfterMs - ("at" in event ? event.at : 0)),
    grace: ({ context }) => context.graceMs,
    /** Until the manual status expires, from the time of the event that set it. */
    manualExpiry: ({ context, event }) =>
      Math.max(0, (context.manual?.expires_at_ms ?? event.at) - ("at" in event ? event.at : 0)),
  },
}).createMachine({
  id: "presence",
  type: "parallel",
  context: ({ input }) => ({
    user: input.user,
    awayAfterMs: input.awayAfterMs,
    graceMs: input.graceMs,
    conns: [],
  }),
  states: {
    status: {
      initial: "offline",
      on: {
        ACTIVITY: { actions: "markActive" },
        JOIN: { actions: ["join", "markActive"] },
        UPDATE: { guard: "isMember", actions: ["join", "markActive"] },
        LEAVE: { actions: ["leave", "markActive"] },
      },
      states: {
        offline: {
          on: {
            CONNECT: { guard: "isNewConn", target: "online", actions: ["addConn", "markActive"] },
            FORGET: { actions: "forget" },
          },
        },
        online: {
          after: { awayAfter: "away" },
          on: {
            CONNECT: {
              guard: "isNewConn",
              target: "online",
              reenter: true,
              actions: ["addConn", "markActive"],
            },
            ACTIVITY: { target: "online", reenter: true, actions: "markActive" },
            JOIN: { target: "online", reenter: true, actions: ["join", "markActive"] },
            UPDATE: { guard: "isMember", target: "online", reenter: true, actions: ["join", "markActive"] },
            LEAVE: { target: "online", reenter: true, actions: ["leave", "markActive"] },
            DISCONNECT: connEnds("grace.online"),
            CONN_TIMEOUT: connEnds("grace.online"),
          },
        },
        away: {
          on: {
            CONNECT: { guard: "isNewConn", target: "online", actions: ["addConn", "markActive"] },
            ACTIVITY: { target: "online", actions: "markActive" },
            JOIN: { target: "online", actions: ["join", "markActive"] },
            UPDATE: { guard: "isMember", target: "online", actions: ["join", "markActive"] },
            LEAVE: { target: "online", actions: ["leave", "markActive"] },
            DISCONNECT: connEnds("grace.away"),
            CONN_TIMEOUT: connEnds("grace.away"),
          },
        },
        /** No live conn, but not offline yet: a conn that comes back in time prevents a flap. */
        grace: {
          after: { grace: "offline" },
          on: {
            CONNECT: { guard: "isNewConn", target: "online", actions: ["addConn", "markActive"] },
          },
          initial: "online",
          states: {
            online: {
              after: { awayRemaining: "away" },
              on: { ACTIVITY: { target: "online", reenter: true, actions: "markActive" } },
            },
            away: { on: { ACTIVITY: { target: "online", actions: "markActive" } } },
          },
        },
      },
    },
    manual: {
      initial: "none",
      states: {
        none: {
          on: {
            SET_STATUS: [
              { guard: "isAuto" },
              { guard: "hasExpiry", target: "expiring", actions: "setManual" },
              { target: "set", actions: "setManual" },
            ],
          },
        },
        set: {
          on: {
            SET_STATUS: [
              { guard: "isAuto", target: "none", actions: "clearManual" },
              { guard: "hasExpiry", target: "expiring", actions: "setManual" },
              { actions: "setManual" },
            ],
          },
        },
        expiring: {
          after: { manualExpiry: { target: "none", actions: "clearManual" } },
          on: {
            SET_STATUS: [
              { guard: "isAuto", target: "none", actions: "clearManual" },
              { guard: "hasExpiry", target: "expiring", reenter: true, actions: "setManual" },
              { target: "set", actions: "setManual" },
            ],
          },
        },
      },
    },
  },
});
