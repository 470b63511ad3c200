/**
 * status-projector: folds the facts of the events stream into the KV projections
 * (`presence_status`, `presence_members`), idempotently. It owns those buckets. Wiring only:
 * the durable consumer (consumer.ts), the reader (fact-reader.ts), the loop that applies
 * batches (projector.ts), the pure core (project.ts) and the KV writer (kv-writer.ts); old delete
 * markers of the members bucket are removed on a timer (marker-purge.ts).
 */
import { buckets, consumers, streams } from "@herald/protocol";
import type { App, WorkerContext } from "@herald/runtime";
import { ensureConsumer } from "./consumer.js";
import { KvWriter } from "./kv-writer.js";
import { MarkerPurge } from "./marker-purge.js";
import { projectorMetrics } from "./metrics.js";
import { Projector, type ProjectorStats } from "./projector.js";
import { tuning } from "./tuning.js";

export type { ProjectorStats } from "./projector.js";

export interface ProjectorApp extends App {
  stats(): Readonly<ProjectorStats>;
}

export interface ProjectorOptions {
  /** Durable consumer name (default `consumers.projector`); another name replays every fact. */
  readonly consumer?: string;
}

export async function start(ctx: WorkerContext): Promise<App> {
  return startProjector(ctx);
}

/** {@link start} with options, for tests and tools. */
export async function startProjector(ctx: WorkerContext, opts: ProjectorOptions = {}): Promise<ProjectorApp> {
  const name = opts.consumer ?? consumers.projector;
  const log = ctx.log.child({ module: "projector", consumer: name });
  const info = await ensureConsumer(ctx.jsm, name);
  const writer = await KvWriter.open(ctx.jsm, [buckets.status, buckets.members], {
    casAttempts: tuning.casAttempts,
    concurrency: tuning.writeConcurrency,
    knownKeys: tuning.knownKeys,
  });
  const projector = new Projector(ctx, info, writer, log);
  log.info(
    { stream: streams.events, filter: info.config.filter_subject, pending: info.num_pending },
    "status-projector started",
  );
  projectorMetrics(ctx.metrics, () => projector.stats);
  const markers = new MarkerPurge(
    ctx.jsm,
    {
      maxAgeMs: tuning.markerMaxAgeMs,
      everyMs: tuning.markerPurgeEveryMs,
      concurrency: tuning.markerPurgeConcurrency,
    },
    log.child({ module: "marker-purge" }),
  );
  markers.start();
  return {
    close: async () => {
      await markers.stop();
      await projector.close();
    },
    stats: () => ({ ...projector.stats }),
  };
}
