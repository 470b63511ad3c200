/**
 * The public names of CONTRACT.md: the micro service, its methods, the API and live-event
 * subjects and the public KV bucket. Everything else Herald names is internal (@herald/protocol).
 */
import { encodeToken } from "./tokens.js";

/** The NATS micro service that answers the request-reply API (CONTRACT.md §4). */
export const SERVICE_NAME = "presence";

/** Commands that change state (CONTRACT.md §4, "Commands"). */
export const COMMAND_METHODS = [
  "heartbeat",
  "disconnect",
  "update_user_status",
  "delete_user_status",
  "join",
  "update",
  "leave",
  "set_status",
] as const;

/** Read-only methods, answered from the projections. */
export const QUERY_METHODS = [
  "get_user_status",
  "presence",
  "presence_stats",
  "channel_users",
  "user_channels",
  "is_present",
  "history",
  "status_at",
] as const;

export type CommandMethod = (typeof COMMAND_METHODS)[number];
export type QueryMethod = (typeof QUERY_METHODS)[number];
export type Method = CommandMethod | QueryMethod;

const METHODS: ReadonlySet<string> = new Set<string>([...COMMAND_METHODS, ...QUERY_METHODS]);

export function isMethod(name: string): name is Method {
  return METHODS.has(name);
}

export function isCommandMethod(name: string): name is CommandMethod {
  return (COMMAND_METHODS as readonly string[]).includes(name);
}

const API_PREFIX = "presence.api.";
const EVENTS_PREFIX = "presence.events.";

/** Public subjects (CONTRACT.md §4 and §5). */
export const subjects = {
  /** Everything the gateway serves: one dispatcher routes every method and the 404. */
  api: `${API_PREFIX}>`,
  /** The request subject of one API method. */
  method: (method: string): string => `${API_PREFIX}${method}`,
  /** The method named by an API subject, or undefined when the subject is not one. */
  methodOf: (subject: string): string | undefined =>
    subject.startsWith(API_PREFIX) ? subject.slice(API_PREFIX.length) : undefined,
  /** Live status events of one user. */
  userEvents: (user: string): string => `${EVENTS_PREFIX}user.${encodeToken(user)}`,
  /** Live join/update/leave events of one channel. */
  channelEvents: (channel: string): string => `${EVENTS_PREFIX}channel.${encodeToken(channel)}`,
  /** Every live event. */
  allEvents: `${EVENTS_PREFIX}>`,
  /** Every user's live status events. */
  allUserEvents: `${EVENTS_PREFIX}user.*`,
  /** What every user's event subject starts with (the token of the user follows). */
  userEventsPrefix: `${EVENTS_PREFIX}user.`,
  /** What every channel's event subject starts with (the token of the channel follows). */
  channelEventsPrefix: `${EVENTS_PREFIX}channel.`,
} as const;

/** The public KV bucket of user statuses (CONTRACT.md §6), key `token(user)`. */
export const STATUS_BUCKET = "presence_status";
