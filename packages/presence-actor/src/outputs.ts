/**
 * A step's outputs (pure): the public events (CONTRACT.md §5) and the facts for the projections
 * that follow from the changes the machine reported and from the user's state before and after
 * the step. The order is the machine's: member changes as reported, the status change where it
 * announced it (a new conn) or else last. Nothing here decides anything.
 */
import type { ChannelEvent, Fact, MemberDoc, StatusEvent } from "@herald/protocol";
import { type Change, isInvisible } from "./machine.js";
import { docKey, reported, statusDoc, times, type UserState } from "./status-doc.js";

export type PublicEvent = StatusEvent | ChannelEvent;

/** What one step produced, in order. */
export interface StepOutputs {
  readonly events: PublicEvent[];
  readonly facts: Fact[];
}

function memberOutputs(
  user: string,
  change: Extract<Change, { type: "member" }>,
  at: number,
  out: StepOutputs,
) {
  const { conn, channel, membership, hidden, event } = change;
  let doc: MemberDoc | null = null;
  if (membership !== null) {
    doc = {
      channel,
      user,
      conn,
      data: membership.data,
      joined_at_ms: membership.joined_at_ms,
      updated_at_ms: membership.updated_at_ms,
    };
    if (hidden) doc.hidden = true;
  }
  out.facts.push({ type: "member", channel, user, conn, doc });
  if (event === undefined) return;
  switch (event.type) {
    case "join": {
      const e: ChannelEvent = { type: "join", channel, user, conn, data: membership?.data ?? {}, at_ms: at };
      if (event.first) e.first = true;
      out.events.push(e);
      return;
    }
    case "update":
      out.events.push({ type: "update", channel, user, conn, data: membership?.data ?? {}, at_ms: at });
      return;
    case "leave": {
      const e: ChannelEvent = { type: "leave", channel, user, conn, reason: event.reason, at_ms: at };
      if (event.last) e.last = true;
      out.events.push(e);
      return;
    }
  }
}

/** The status event (when what others see changed) and the user fact (when the document changed). */
function statusOutputs(before: UserState, after: UserState, at: number, out: StepOutputs): void {
  const prev = reported(before);
  const next = reported(after);
  if (prev.status !== next.status || JSON.stringify(prev.manual) !== JSON.stringify(next.manual)) {
    const e: StatusEvent = {
      type: "status",
      user: after.context.user,
      status: next.status,
      prev: prev.status,
      at_ms: at,
    };
    if (!isInvisible(after.context)) Object.assign(e, times(after, at));
    if (next.manual !== undefined) e.manual = { ...next.manual };
    out.events.push(e);
  }
  const doc = statusDoc(after, at);
  if (docKey(statusDoc(before, at)) !== docKey(doc)) {
    out.facts.push({ type: "user", user: after.context.user, doc });
  }
}

/** Appends to `out` what a step from `before` to `after` with `changes` shows. */
export function collectOutputs(
  before: UserState,
  after: UserState,
  changes: readonly Change[],
  at: number,
  out: StepOutputs,
): void {
  const user = after.context.user;
  let announced = false;
  for (const change of changes) {
    if (change.type === "member") memberOutputs(user, change, at, out);
    else if (change.type === "announce" && !announced) {
      announced = true;
      statusOutputs(before, after, at, out);
    }
  }
  if (!announced) statusOutputs(before, after, at, out);
}
