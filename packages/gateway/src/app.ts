/**
 * The gateway: Herald's front door. It owns the command stream, where validated and stamped
 * commands are appended in batches per partition, and will serve `presence.api.>` as the NATS
 * micro service `presence`, answering queries from the projections.
 */
import { streams } from "@herald/protocol";
import type { App, WorkerContext } from "@herald/runtime";

export async function start(ctx: WorkerContext): Promise<App> {
  ctx.log.info({ commands: streams.commands, partitions: ctx.config.partitions }, "gateway ready");
  return { close: async () => {} };
}
