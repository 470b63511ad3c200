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
  data: Record<string, unknown>;
  joined_at_ms: number;
  updated_at_ms: number;
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
  /** Live conns and their channel memberships. */
  conns: Record<string, Record<string, Membership>>;
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

function withoutConn(conns: PresenceContext["conns"], conn: string): PresenceContext["conns"] {
  const { [conn]: _gone, ...rest } = conns;
  return rest;
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
    isNewConn: ({ context, event }) => "conn" in event && context.conns[event.conn] === undefined,
    isLiveConn: ({ context, event }) => "conn" in event && context.conns[event.conn] !== undefined,
    isLastConn: ({ context, event }) =>
      "conn" in event && context.conns[event.conn] !== undefined && Object.keys(context.conns).length === 1,
    isMember: ({ context, event }) =>
      event.type === "UPDATE" && context.conns[event.conn]?.[event.channel] !== undefined,
    hasExpiry: ({ event }) => event.type === "SET_STATUS" && event.expires_at_ms !== undefined,
    isAuto: ({ event }) => event.type === "SET_STATUS" && event.status === "auto",
  },
  actions: {
    markActive: assign({ activeAt: ({ event }) => event.at }),
    addConn: assign({
      conns: ({ context, event }) =>
        "conn" in event ? { ...context.conns, [event.conn]: {} } : context.conns,
    }),
    removeConn: assign({
      conns: ({ context, event }) =>
        "conn" in event ? withoutConn(context.conns, event.conn) : context.conns,
      onlineAt: ({ context, event }) =>
        Object.keys(context.conns).length === 1 ? event.at : context.onlineAt,
    }),
    join: assign({
      conns: ({ context, event }) => {
        if (event.type !== "JOIN" && event.type !== "UPDATE") return context.conns;
        const channels = context.conns[event.conn] ?? {};
        const before = channels[event.channel];
        const membership: Membership = {
          data: event.data,
          joined_at_ms: before?.joined_at_ms ?? event.at,
          updated_at_ms: event.at,
        };
        return { ...context.conns, [event.conn]: { ...channels, [event.channel]: membership } };
      },
    }),
    leave: assign({
      conns: ({ context, event }) => {
        if (event.type !== "LEAVE") return context.conns;
        const channels = context.conns[event.conn];
        if (channels?.[event.channel] === undefined) return context.conns;
        const { [event.channel]: _gone, ...rest } = channels;
        return { ...context.conns, [event.conn]: rest };
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
    conns: {},
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
