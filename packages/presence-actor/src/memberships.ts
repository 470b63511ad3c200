/**
 * A user's live conns and their channel memberships, as the machine's context holds them, and
 * the pure functions the machine's actions use on them. Arrays, not objects keyed by id: a user
 * has a few of each, and objects with keys unique to each user would each get a hidden class of
 * their own in V8 — hundreds of bytes per user with a million users. Arrays are built with
 * `concat`/`filter`/`map` (exact length), never spread (which leaves spare capacity), and never
 * changed in place: a snapshot taken before a step must stay as it was.
 */

export interface Membership {
  readonly channel: string;
  readonly data: Record<string, unknown>;
  readonly joined_at_ms: number;
  readonly updated_at_ms: number;
}

/** A live conn: its ttl (from its last heartbeat, or its first command) and its memberships. */
export interface Conn {
  readonly id: string;
  readonly ttl: number;
  readonly channels: readonly Membership[];
}

/** Member data `{}` (the default), shared by every member that has it. */
export const NO_DATA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

export const NO_CHANNELS: readonly Membership[] = Object.freeze([]);

export function findConn(conns: readonly Conn[], id: string): Conn | undefined {
  for (const c of conns) if (c.id === id) return c;
  return undefined;
}

export function findMembership(conn: Conn | undefined, channel: string): Membership | undefined {
  if (conn === undefined) return undefined;
  for (const m of conn.channels) if (m.channel === channel) return m;
  return undefined;
}

/** Whether a conn of the user other than `except` is in `channel`. */
export function inChannelElsewhere(conns: readonly Conn[], except: string, channel: string): boolean {
  for (const c of conns) if (c.id !== except && findMembership(c, channel) !== undefined) return true;
  return false;
}

export function withoutConn(conns: readonly Conn[], id: string): readonly Conn[] {
  return conns.filter((c) => c.id !== id);
}

/** `conns` with conn `id` replaced by (or, when new, followed by) `conn`. */
export function withConn(conns: readonly Conn[], conn: Conn): readonly Conn[] {
  return findConn(conns, conn.id) === undefined
    ? conns.concat([conn])
    : conns.map((c) => (c.id === conn.id ? conn : c));
}

/** `conn` with `membership` in place of its membership of the same channel (or added). */
export function withMembership(conn: Conn, membership: Membership): Conn {
  const before = findMembership(conn, membership.channel);
  const channels =
    before === undefined
      ? conn.channels.concat([membership])
      : conn.channels.map((m) => (m === before ? membership : m));
  return { id: conn.id, ttl: conn.ttl, channels };
}

export function withoutMembership(conn: Conn, channel: string): Conn {
  return { id: conn.id, ttl: conn.ttl, channels: conn.channels.filter((m) => m.channel !== channel) };
}
