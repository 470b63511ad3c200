/**
 * presence-actor: takes leases on partitions of the command stream, runs each owned partition
 * (restore, replay, then live), and appends clock ticks for partitions whose timers are due.
 */
import { buckets, encodeVerdict, internalSubjects, objectStores } from "@herald/protocol";
import { type App, connectNats, inboxPrefixFor, StreamPublisher, type WorkerContext } from "@herald/runtime";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { nuid } from "@nats-io/nats-core";
import { Objm } from "@nats-io/obj";
import { FencedError } from "./errors.js";
import { Leases } from "./leases.js";
import { ActorMetrics } from "./metrics.js";
import { PartitionRunner } from "./runner.js";
import { tuning } from "./tuning.js";

export interface PresenceActorApp extends App {
  /** This process's owner id (in leases and checkpoints). */
  readonly owner: string;
  /** The partitions this process runs now. */
  readonly runners: ReadonlyMap<number, PartitionRunner>;
}

export async function start(ctx: WorkerContext): Promise<PresenceActorApp> {
  const { config, nc, jsm, log } = ctx;
  const js = jetstream(nc);
  const kvm = new Kvm(js);
  const checkpoints = await kvm.open(buckets.checkpoints);
  // Leases on a connection of their own: a renewal must not queue behind a partition's appends.
  const leaseNc = await connectNats(
    config.nats,
    "herald-presence-actor-leases",
    log.child({ conn: "leases" }),
  );
  const leaseKv = await new Kvm(leaseNc).open(buckets.leases);
  const snapshots = await new Objm(js).open(objectStores.snapshots);
  const owner = `${process.pid}-${nuid.next()}`;
  const runners = new Map<number, PartitionRunner>();
  const publisher = new StreamPublisher(nc, undefined, inboxPrefixFor(config.nats.user));
  let restores: Promise<unknown> = Promise.resolve();
  /** One partition restores its snapshot at a time. */
  const restoring = <T>(work: () => Promise<T>): Promise<T> => {
    const run = restores.then(work);
    restores = run.catch(() => undefined);
    return run;
  };

  // `leases` is assigned below, before anything reads the gauges.
  const metrics = new ActorMetrics(ctx.metrics, {
    owned: () => leases.held.length,
    runners: () => runners.values(),
  });
  const leases: Leases = new Leases(
    leaseKv,
    await jetstreamManager(leaseNc),
    {
      owner,
      partitions: config.partitions,
      ttlMs: config.leaseTtlMs,
      renewMs: Math.floor(config.leaseTtlMs / tuning.renewalsPerTtl),
    },
    {
      async acquired(p) {
        const plog = log.child({ partition: p });
        const runner = new PartitionRunner(
          p,
          config,
          {
            js,
            jsm,
            publisher,
            checkpoints,
            snapshots,
            sendVerdict: (gateway, verdict) =>
              nc.publish(internalSubjects.verdicts(gateway), encodeVerdict(verdict)),
            metrics,
            log: plog,
          },
          {
            owner,
            snapshotIntervalMs: config.snapshotIntervalMs,
            leaseValid: () => leases.valid(p),
            regainLease: (signal) => leases.regain(p, signal),
            restoring,
            onHalt(err) {
              if (runners.get(p) === runner) runners.delete(p);
              // Fenced: the partition is someone else's. Failed: give it back to be started again.
              void leases.drop(p, !(err instanceof FencedError));
            },
          },
        );
        runners.set(p, runner);
        // Not awaited: a long restore must not hold up the renewal of the other leases.
        runner.start().catch((err: unknown) => {
          plog.warn({ err }, "starting the partition failed; giving it back");
          if (runners.get(p) === runner) runners.delete(p);
          void runner.stop().finally(() => leases.drop(p, true));
        });
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
  }, tuning.tickMs);

  return {
    owner,
    runners,
    stopTimeoutMs: tuning.stopTimeoutMs,
    // Ready means serving partitions: a process holding none (all taken by others, or still
    // waiting for a dead owner's leases to run out) is a standby.
    health: () =>
      leases.held.length > 0 ? undefined : "holds no partition (standby, or waiting for leases)",
    stats() {
      const total = {
        users: 0,
        timers: 0,
        commands: 0,
        heartbeatsNoChange: 0,
        transitions: 0,
        timersFired: 0,
      };
      const runs = { appended: 0, replayed: 0, snapshots: 0, ticks: 0, restoredUsers: 0, verdicts: 0 };
      let maxStepMs = 0;
      let maxStepCpuMs = 0;
      let caughtUp = 0;
      let channelNames = 0;
      for (const r of runners.values()) {
        const p = r.partition;
        channelNames += p.channelNames;
        total.users += p.users.size;
        total.timers += p.timers.size;
        for (const k of ["commands", "heartbeatsNoChange", "transitions", "timersFired"] as const)
          total[k] += p.stats[k];
        runs.appended += r.appended;
        runs.snapshots += r.snapshots;
        for (const k of ["replayed", "ticks", "restoredUsers", "verdicts"] as const) runs[k] += r.stats[k];
        if (r.caughtUp) caughtUp++;
        maxStepMs = Math.max(maxStepMs, r.stats.maxStepMs);
        maxStepCpuMs = Math.max(maxStepCpuMs, r.stats.maxStepCpuMs);
      }
      return {
        owner,
        partitions: leases.held,
        caught_up: caughtUp,
        // Command-stream messages not applied yet over its partitions, and its dead letters.
        lag: [...runners.values()].reduce((n, r) => n + r.lag, 0),
        dead_letters: metrics.deadLetters,
        ...total,
        ...runs,
        channel_names: channelNames,
        max_step_ms: Math.round(maxStepMs * 1000) / 1000,
        max_step_cpu_ms: Math.round(maxStepCpuMs * 1000) / 1000,
      };
    },
    async close() {
      clearInterval(tick);
      try {
        await leases.close();
      } finally {
        await leaseNc.drain().catch(() => leaseNc.close());
      }
    },
  };
}
