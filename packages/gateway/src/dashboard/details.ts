/**
 * The channel and user views, from the one dispatcher's queries (so they validate and answer as
 * the API does), and a user's live conns from its `presence_status` value.
 */
import type { ChannelView, UserView } from "@herald/dashboard";
import { limits, type Member, type PresenceEvent, type UserStatus } from "@herald/protocol";
import type { Dispatcher } from "../dispatcher.js";
import type { Link } from "./link.js";

/** A channel view's recent events: since this long ago, the newest this many. */
export const CHANNEL_EVENTS_WINDOW_MS = 15 * 60_000;
export const CHANNEL_EVENTS_SHOWN = 100;
/** A user's timeline, unless the page asks for another window. */
export const USER_HISTORY_WINDOW_MS = 24 * 60 * 60_000;

type Events = { events: PresenceEvent[] };

export async function channelView(d: Dispatcher, channel: string, nowMs: number): Promise<ChannelView> {
  const since = nowMs - CHANNEL_EVENTS_WINDOW_MS;
  // One query first: a bad channel is refused (400) before the others run.
  const { members } = (await d.handleParams("presence", { channel })) as { members: Member[] };
  const [stats, history] = await Promise.all([
    d.handleParams("presence_stats", { channel }) as Promise<ChannelView["stats"]>,
    d.handleParams("history", { channel, since_ms: since, limit: limits.historyMax }) as Promise<Events>,
  ]);
  return {
    channel,
    stats,
    members,
    events: history.events.slice(-CHANNEL_EVENTS_SHOWN),
    since_ms: since,
  };
}

export async function userView(
  d: Dispatcher,
  link: Link | undefined,
  user: string,
  sinceMs: number,
): Promise<UserView> {
  const [seen] = ((await d.handleParams("get_user_status", { users: [user] })) as { statuses: UserStatus[] })
    .statuses;
  const [actual, channels, history, conns] = await Promise.all([
    d.handleParams("get_user_status", { users: [user], include_hidden: true }) as Promise<{
      statuses: UserStatus[];
    }>,
    d.handleParams("user_channels", { user }) as Promise<{ channels: string[] }>,
    d.handleParams("history", { user, since_ms: sinceMs, limit: limits.historyMax }) as Promise<Events>,
    link === undefined
      ? undefined
      : link.statusDoc(user).then(
          (doc) => doc?.conns ?? 0,
          () => undefined,
        ),
  ]);
  return {
    user,
    status: seen as UserStatus,
    actual: actual.statuses[0] as UserStatus,
    conns: conns ?? null,
    channels: channels.channels,
    history: history.events,
    since_ms: sinceMs,
  };
}
