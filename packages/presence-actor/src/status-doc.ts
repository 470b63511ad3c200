/**
 * What others see of a user in a given state (pure): the reported status and manual status, the
 * `online`/`active` times, and the `presence_status` document (CONTRACT.md §6). Derived from the
 * machine's state value (through its tags) and context; nothing here decides anything.
 */
import type { ManualStatus, Status, StatusDoc } from "@herald/protocol";
import { isInvisible, type PresenceContext } from "./machine.js";
import { type StateValue, statusOfState } from "./xstate-pure.js";

/** What the functions below read of a user: the machine's state value and context. */
export interface UserState {
  readonly value: StateValue;
  readonly context: PresenceContext;
}

const seconds = (ms: number): number => Math.floor(ms / 1000);

/** The status the machine is in, ignoring manual status. */
export function actualStatus(user: UserState): Status {
  return statusOfState(user.value);
}

/** What others see: the status, and the manual status unless invisible (then offline). */
export function reported(user: UserState): { status: Status; manual?: ManualStatus } {
  const ctx = user.context;
  if (isInvisible(ctx)) return { status: "offline" };
  const status = actualStatus(user);
  return ctx.manual === undefined ? { status } : { status, manual: ctx.manual };
}

/** `online` (now while a conn is live) and `active` (`activeAt`, or the reported one), in seconds. */
export function times(
  user: UserState,
  at: number,
  active: "actual" | "reported" = "actual",
): { online?: number; active?: number } {
  const ctx = user.context;
  const out: { online?: number; active?: number } = {};
  const online = ctx.conns.length > 0 ? at : ctx.onlineAt;
  if (online !== undefined) out.online = seconds(online);
  const activeAt = active === "actual" ? ctx.activeAt : ctx.reportedActiveAt;
  if (activeAt !== undefined) out.active = seconds(activeAt);
  return out;
}

/** The `presence_status` document (CONTRACT.md §6) at `at`, or null when there is nothing to keep. */
export function statusDoc(user: UserState, at: number): StatusDoc | null {
  const ctx = user.context;
  const actual = actualStatus(user);
  const t = times(user, at, "reported");
  const conns = ctx.conns.length;
  if (actual === "offline" && ctx.manual === undefined && t.online === undefined && t.active === undefined) {
    return null;
  }
  if (isInvisible(ctx)) {
    return {
      user: ctx.user,
      status: "offline",
      manual: { ...ctx.manual, status: "invisible" },
      conns,
      updated_at_ms: at,
      hidden: true,
      actual: { status: actual, ...t },
    };
  }
  const doc: StatusDoc = { user: ctx.user, status: actual, ...t, conns, updated_at_ms: at };
  if (ctx.manual !== undefined) doc.manual = { ...ctx.manual };
  return doc;
}

/**
 * A document without what moves on its own: its write time, and `online` while connected (it
 * means "now" then). Two documents with the same key need not both be written.
 */
export function docKey(doc: StatusDoc | null): string {
  if (doc === null) return "null";
  const live = doc.conns > 0;
  const { updated_at_ms: _written, online, actual, ...rest } = doc;
  const a = actual === undefined ? undefined : { ...actual, online: live ? undefined : actual.online };
  return JSON.stringify({ ...rest, online: live ? undefined : online, actual: a });
}
