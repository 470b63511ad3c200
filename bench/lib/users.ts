/** How the bench names its users, conns and channels, and the heartbeat payloads it sends. */

/** User `i` of a population (`prefix` keeps populations of one run apart). */
export const userId = (prefix: string, i: number): string => `${prefix}${i}`;

/** Every bench user has one conn, named the same everywhere, unless a measurement moves it. */
export const CONN = "c0";

/** Users share channels, 100 members each for a million users (as chat rooms would). */
export const channelOf = (i: number): string => `room-${i % 10_000}`;

/** A ttl long enough that no conn times out during a run unless a measurement wants it to. */
export const LONG_TTL_MS = 6 * 3_600_000;

/**
 * The JSON bodies of `presence.api.heartbeat` that cover users 0..users-1 once, `batch` per
 * message: `{user, conn, ttl_ms}` for a batch of 1, `{heartbeats: [...]}` otherwise.
 */
export function heartbeatBodies(prefix: string, users: number, batch: number, ttlMs: number): string[] {
  const item = (i: number) => `{"user":"${userId(prefix, i)}","conn":"${CONN}","ttl_ms":${ttlMs}}`;
  const bodies: string[] = [];
  for (let first = 0; first < users; first += batch) {
    if (batch === 1) {
      bodies.push(item(first));
      continue;
    }
    const items: string[] = [];
    for (let i = first; i < Math.min(users, first + batch); i++) items.push(item(i));
    bodies.push(`{"heartbeats":[${items.join(",")}]}`);
  }
  return bodies;
}
