/**
 * A user's status over a window, from its `history` (status events, oldest first), as
 * consecutive segments (pure). Before the first event the status is that event's `prev`; with
 * no event at all, the current status holds for the whole window.
 */
import type { PresenceEvent, Status } from "@herald/contract";

export interface Segment {
  readonly status: Status;
  readonly from_ms: number;
  readonly to_ms: number;
}

export function segments(
  history: readonly PresenceEvent[],
  sinceMs: number,
  nowMs: number,
  current: Status,
): Segment[] {
  const changes = history.filter((e) => e.type === "status");
  const first = changes[0];
  const out: Segment[] = [];
  let status: Status = first === undefined ? current : first.prev;
  let from = sinceMs;
  for (const e of changes) {
    const at = Math.min(Math.max(e.at_ms, sinceMs), nowMs);
    if (at > from) out.push({ status, from_ms: from, to_ms: at });
    status = e.status;
    from = at;
  }
  if (nowMs > from) out.push({ status, from_ms: from, to_ms: nowMs });
  // Neighbours with the same status (a manual status change) make one segment.
  return out.reduce<Segment[]>((merged, s) => {
    const last = merged[merged.length - 1];
    if (last !== undefined && last.status === s.status)
      merged[merged.length - 1] = { ...last, to_ms: s.to_ms };
    else merged.push(s);
    return merged;
  }, []);
}
