/**
 * What the query commands print: the API's results as tables for people. Pure: results, the
 * time `now` and the colours come in; `--json` prints the results themselves instead.
 */
import type { Member, PresenceEvent, UserStatus } from "@herald/contract";
import type { Colors } from "./colors.js";
import { colors as makeColors } from "./colors.js";
import { count, dataText, localTime, manualText, plural, statusText, table, when } from "./format.js";

const plain = makeColors(false);

/** `get_user_status`: user, status, online and active (local time and "3m ago"), manual. */
export function statusTable(statuses: readonly UserStatus[], nowMs: number, c: Colors = plain): string {
  const time = (s: number | undefined) => (s === undefined ? c.dim("-") : when(s * 1000, nowMs));
  const rows = statuses.map((s) => [
    s.user,
    statusText(s.status, c),
    time(s.online),
    time(s.active),
    s.manual === undefined ? c.dim("-") : manualText(s.manual, nowMs, c),
  ]);
  return table(["USER", "STATUS", "ONLINE", "ACTIVE", "MANUAL"], rows, { colors: c });
}

/** `presence`: one row per member (user, conn), sorted, then a count. */
export function presenceTable(
  channel: string,
  members: readonly Member[],
  nowMs: number,
  c: Colors = plain,
): string {
  if (members.length === 0) return `${c.dim(`no one in ${channel}`)}`;
  const sorted = [...members].sort((a, b) =>
    a.user === b.user ? (a.conn < b.conn ? -1 : 1) : a.user < b.user ? -1 : 1,
  );
  const rows = sorted.map((m) => [
    m.user,
    m.conn,
    when(m.joined_at_ms, nowMs),
    m.updated_at_ms === m.joined_at_ms ? c.dim("-") : when(m.updated_at_ms, nowMs),
    dataText(m.data),
  ]);
  const users = new Set(members.map((m) => m.user)).size;
  return `${table(["USER", "CONN", "JOINED", "UPDATED", "DATA"], rows, { colors: c })}\n${c.dim(
    `${plural(members.length, "member")}, ${plural(users, "user")} in ${channel}`,
  )}`;
}

/** `presence_stats`. */
export function statsText(
  channel: string,
  r: { num_clients: number; num_users: number },
  c: Colors = plain,
): string {
  return table(["CHANNEL", "CLIENTS", "USERS"], [[channel, count(r.num_clients), count(r.num_users)]], {
    colors: c,
    right: [1, 2],
  });
}

/** `status_at`: the status others saw at a time. */
export function statusAtTable(
  atMs: number,
  statuses: readonly { user: string; status: string }[],
  nowMs: number,
  c: Colors = plain,
): string {
  const title = c.dim(`statuses at ${when(atMs, nowMs)}`);
  return `${title}\n${table(
    ["USER", "STATUS"],
    statuses.map((s) => [s.user, statusText(s.status, c)]),
    { colors: c },
  )}`;
}

/** One event's details for the history table. */
function eventDetail(e: PresenceEvent, nowMs: number, c: Colors): { who: string; detail: string } {
  if (e.type === "status") {
    const manual = manualText(e.manual, nowMs, c);
    const change = `${statusText(e.prev, c)} → ${statusText(e.status, c)}`;
    return { who: e.user, detail: manual === "" ? change : `${change}  ${manual}` };
  }
  const flags = [
    e.type === "join" && e.first === true ? "first" : "",
    e.type === "leave" ? e.reason : "",
    e.type === "leave" && e.last === true ? "last" : "",
  ].filter((f) => f !== "");
  const parts = [flags.join(" "), dataText(e.data)].filter((p) => p !== "");
  return { who: `${e.user}/${e.conn}`, detail: parts.join("  ") };
}

/** `history`: oldest first, one row per event. */
export function historyTable(events: readonly PresenceEvent[], nowMs: number, c: Colors = plain): string {
  if (events.length === 0) return c.dim("no events");
  const statusOnly = events.every((e) => e.type === "status");
  const rows = events.map((e) => {
    const d = eventDetail(e, nowMs, c);
    const ms = String(e.at_ms % 1000).padStart(3, "0");
    const time = `${localTime(e.at_ms, nowMs)}.${ms}`;
    if (statusOnly) return [time, d.who, d.detail];
    return [time, e.type, e.type === "status" ? "" : e.channel, d.who, d.detail];
  });
  const headers = statusOnly ? ["TIME", "USER", "STATUS"] : ["TIME", "TYPE", "CHANNEL", "WHO", "DETAIL"];
  return table(headers, rows, { colors: c });
}

/** `user_channels`: one channel a line (a script can read it), or a note when none. */
export function channelsText(user: string, channels: readonly string[], c: Colors = plain): string {
  if (channels.length === 0) return c.dim(`${user} is in no channel`);
  return [...channels].sort().join("\n");
}
