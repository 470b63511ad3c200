/**
 * Users in partition snapshots, flat: every user as a run of primitives in one array (no object
 * per user), several times faster to encode and decode than an object each.
 */
import type { Manual, PresenceContext, PresenceSettings } from "./machine.js";
import { type Conn, type Membership, NO_DATA } from "./memberships.js";
import { UserEntity } from "./user.js";
import type { StateValue } from "./xstate-pure.js";

/**
 * Appends `user` to `into`: user, state index, activeAt, reportedActiveAt, onlineAt, manual,
 * conn count, then per conn its id, ttl and channel count, then per channel its name, data
 * (null for `{}`), joined_at_ms, updated_at_ms. `states` numbers the distinct state values (by
 * their JSON). The settings are the partition's, not saved per user.
 */
export function saveUser(user: UserEntity, into: unknown[], states: Map<string, number>): void {
  const key = JSON.stringify(user.value);
  let state = states.get(key);
  if (state === undefined) {
    state = states.size;
    states.set(key, state);
  }
  const c = user.context;
  into.push(
    c.user,
    state,
    c.activeAt ?? null,
    c.reportedActiveAt ?? null,
    c.onlineAt ?? null,
    c.manual ?? null,
  );
  into.push(c.conns.length);
  for (const conn of c.conns) {
    into.push(conn.id, conn.ttl, conn.channels.length);
    for (const m of conn.channels) {
      const empty = Object.keys(m.data).length === 0;
      into.push(m.channel, empty ? null : m.data, m.joined_at_ms, m.updated_at_ms);
    }
  }
}

/** Reads a user written by `saveUser` at `i`; returns it and the index after it. */
export function restoreUser(
  flat: readonly unknown[],
  i: number,
  states: readonly StateValue[],
  settings: PresenceSettings,
  channel: (name: string) => string,
): [UserEntity, number] {
  const orNone = <T>(v: unknown): T | undefined => (v === null ? undefined : (v as T));
  const user = flat[i] as string;
  const value = states[flat[i + 1] as number] as StateValue;
  const activeAt = orNone<number>(flat[i + 2]);
  const reportedActiveAt = orNone<number>(flat[i + 3]);
  const onlineAt = orNone<number>(flat[i + 4]);
  const manual = orNone<Manual>(flat[i + 5]);
  const nConns = flat[i + 6] as number;
  i += 7;
  const conns: Conn[] = [];
  for (let k = 0; k < nConns; k++) {
    const id = flat[i] as string;
    const ttl = flat[i + 1] as number;
    const nChannels = flat[i + 2] as number;
    i += 3;
    const channels: Membership[] = [];
    for (let n = 0; n < nChannels; n++) {
      const data = flat[i + 1] as Record<string, unknown> | null;
      channels.push({
        channel: channel(flat[i] as string),
        data: data ?? NO_DATA,
        joined_at_ms: flat[i + 2] as number,
        updated_at_ms: flat[i + 3] as number,
      });
      i += 4;
    }
    conns.push({ id, ttl, channels });
  }
  const context: PresenceContext = {
    user,
    settings,
    conns,
    activeAt,
    reportedActiveAt,
    onlineAt,
    manual,
  };
  return [new UserEntity(value, context), i];
}
