/**
 * status-projector: folds the events stream into the KV projections (`presence_status`,
 * `presence_members`), idempotently. It owns those buckets.
 */
import { buckets } from "@herald/protocol";
import type { App, WorkerContext } from "@herald/runtime";

export async function start(ctx: WorkerContext): Promise<App> {
  ctx.log.info({ buckets: [buckets.status, buckets.members] }, "status-projector ready");
  return { close: async () => {} };
}
