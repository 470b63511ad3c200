/**
 * The worker processes' own stats: every gateway, presence-actor and status-projector process
 * answers `herald.admin.stats.<component>` (admin only; runtime's worker), so one request per
 * component with many replies finds them all.
 */
import { COMPONENTS, type Component, internalSubjects } from "@herald/protocol";
import type { NatsConnection } from "@nats-io/nats-core";
import { CliError } from "./errors.js";
import { natsErrorMessage } from "./nats.js";

/** One process's answer (runtime's `serveStats` plus the app's counters). */
export interface WorkerStats {
  readonly component: string;
  readonly pid: number;
  readonly uptime_ms: number;
  readonly memory: { readonly rss: number; readonly heapUsed: number; readonly heapTotal?: number };
  readonly [counter: string]: unknown;
}

export interface StatsSnapshot {
  readonly atMs: number;
  readonly workers: Readonly<Record<Component, readonly WorkerStats[]>>;
}

/** Replies come within this long of the request; the last one ends the wait after {@link STALL_MS} of silence. */
const MAX_WAIT_MS = 1000;
const STALL_MS = 200;

async function ask(
  nc: NatsConnection,
  component: Component,
  maxWaitMs: number,
  user?: string,
): Promise<WorkerStats[]> {
  const subject = internalSubjects.stats(component);
  const found: WorkerStats[] = [];
  try {
    const replies = await nc.requestMany(subject, "{}", {
      strategy: "stall",
      maxWait: maxWaitMs,
      stall: STALL_MS,
    });
    for await (const m of replies) {
      try {
        const s = m.json<WorkerStats>();
        if (typeof s === "object" && s !== null && typeof s.pid === "number") found.push(s);
      } catch {
        // Not a stats reply: skipped.
      }
    }
  } catch (err) {
    const message = natsErrorMessage(err, subject, maxWaitMs, user);
    // No process of this component is running: that is what the view shows, not an error.
    if (message.startsWith("no one answers")) return [];
    throw new CliError(message);
  }
  return found.sort((a, b) => a.pid - b.pid);
}

/** Asks every component at once. */
export async function collectStats(
  nc: NatsConnection,
  nowMs: () => number,
  user?: string,
  maxWaitMs = MAX_WAIT_MS,
): Promise<StatsSnapshot> {
  const lists = await Promise.all(COMPONENTS.map((c) => ask(nc, c, maxWaitMs, user)));
  const workers = Object.fromEntries(COMPONENTS.map((c, i) => [c, lists[i] ?? []])) as Record<
    Component,
    WorkerStats[]
  >;
  return { atMs: nowMs(), workers };
}
