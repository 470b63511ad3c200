/**
 * presence-actor: takes leases on partitions of the command stream, runs each owned partition
 * (replay to its checkpoint, then live), and drives the partitions' timers from one clock tick.
 */
import { buckets } from "@herald/protocol";
import type { App, WorkerContext } from "@herald/runtime";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { nuid } from "@nats-io/nats-core";
import { Leases } from "./leases.js";
import { PartitionRunner } from "./runner.js";

/** How often caught-up partitions fire timers by the wall clock. */
export const TICK_MS = 50;
export const LEASE_TTL_MS = 10_000;
export const LEASE_RENEW_MS = 2_000;

export async function start(ctx: WorkerContext): Promise<App> {
  const { config, nc, log } = ctx;
  const js = jetstream(nc);
  const kvm = new Kvm(nc);
  const checkpoints = await kvm.open(buckets.snapshots);
  const leaseKv = await kvm.open(buckets.leases);
  const owner = `${process.pid}-${nuid.next()}`;
  const runners = new Map<number, PartitionRunner>();

  const leases = new Leases(
    leaseKv,
    { owner, partitions: config.partitions, ttlMs: LEASE_TTL_MS, renewMs: LEASE_RENEW_MS },
    {
      async acquired(p) {
        const runner = new PartitionRunner(p, config, js, checkpoints, log.child({ partition: p }));
        runners.set(p, runner);
        await runner.start();
      },
      async released(p) {
        const runner = runners.get(p);
        runners.delete(p);
        await runner?.stop();
      },
    },
    log.child({ owner }),
  );
  await leases.start();
  log.info({ owner, partitions: leases.held }, "presence-actor ready");

  const tick = setInterval(() => {
    const now = Date.now();
    for (const runner of runners.values()) void runner.tick(now);
  }, TICK_MS);

  return {
    async close() {
      clearInterval(tick);
      await leases.close();
    },
  };
}
