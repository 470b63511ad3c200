/**
 * The statuses of watched users, kept current from status pushes and snapshots. Pure, like
 * members.ts: every change returns the events that describe it.
 */
import { jsonEqual } from "./json-equal.js";
import type { StatusEvent, UserStatus, WatchStatusEvent } from "./types.js";

/** A status event's user status (what `get_user_status` would answer right after it). */
export function statusOfEvent(ev: StatusEvent): UserStatus {
  const s: { -readonly [K in keyof UserStatus]: UserStatus[K] } = { user: ev.user, status: ev.status };
  if (ev.online !== undefined) s.online = ev.online;
  if (ev.active !== undefined) s.active = ev.active;
  if (ev.manual !== undefined) s.manual = ev.manual;
  return s;
}

/**
 * True when `b` reports something other than `a`: another status or another manual status.
 * `online` and `active` alone do not count (`online` moves with every answer while a user is
 * connected, CONTRACT.md §4).
 */
export function statusDiffers(a: UserStatus, b: UserStatus): boolean {
  return a.status !== b.status || !jsonEqual(a.manual, b.manual);
}

/**
 * Takes a fresh snapshot (`watch`'s result) into `map` for the users `map` already holds and
 * `keep` still wants; returns a synthetic status event (at `nowMs`) for each that
 * {@link statusDiffers}. Users not held yet are added with no event.
 */
export function resyncStatuses(
  map: Map<string, UserStatus>,
  fresh: readonly UserStatus[],
  keep: (user: string) => boolean,
  nowMs: number,
): WatchStatusEvent[] {
  const events: WatchStatusEvent[] = [];
  for (const s of fresh) {
    if (!keep(s.user)) continue;
    const prev = map.get(s.user);
    map.set(s.user, s);
    if (prev === undefined || !statusDiffers(prev, s)) continue;
    const ev: WatchStatusEvent = {
      type: "status",
      user: s.user,
      status: s.status,
      prev: prev.status,
      at_ms: nowMs,
      synthetic: "resync",
    };
    if (s.online !== undefined) ev.online = s.online;
    if (s.active !== undefined) ev.active = s.active;
    if (s.manual !== undefined) ev.manual = s.manual;
    events.push(ev);
  }
  return events;
}
