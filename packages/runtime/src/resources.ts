/**
 * The JetStream streams and KV buckets Herald runs on, their configuration (from one table),
 * who owns them, and an idempotent `ensure` that is safe when several processes start at once.
 */
import { buckets, type Config, internalSubjects, streams, subjects } from "@herald/protocol";
import {
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import { Kvm, type KvOptions } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { nanos } from "@nats-io/nats-core";
import type { Logger } from "pino";

export type Component = "gateway" | "presence-actor" | "status-projector";

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

export interface StreamSpec {
  readonly kind: "stream";
  readonly owner: Component;
  /** Components that read it and so make sure it exists before they bind to it. */
  readonly readers: readonly Component[];
  readonly config: Partial<StreamConfig> & { name: string; subjects: string[] };
}

export interface BucketSpec {
  readonly kind: "bucket";
  readonly owner: Component;
  readonly readers: readonly Component[];
  readonly name: string;
  readonly options: Partial<KvOptions>;
}

export type ResourceSpec = StreamSpec | BucketSpec;

/** Every stream and bucket, configured from `config`. */
export function resourceSpecs(config: Config): readonly ResourceSpec[] {
  const replicas = config.replicas;
  const stream = (
    owner: Component,
    readers: readonly Component[],
    cfg: StreamSpec["config"],
  ): StreamSpec => ({
    kind: "stream",
    owner,
    readers,
    config: {
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      num_replicas: replicas,
      ...cfg,
    },
  });
  const bucket = (
    owner: Component,
    readers: readonly Component[],
    name: string,
    options: Partial<KvOptions> = {},
  ): BucketSpec => ({ kind: "bucket", owner, readers, name, options: { history: 1, replicas, ...options } });

  return [
    stream("gateway", ["presence-actor"], {
      name: streams.commands,
      subjects: [internalSubjects.allCommands],
      // Commands are replayed after the newest snapshot; a day is far beyond any takeover.
      max_age: nanos(DAY_MS),
      // Lets a gateway retry an append whose ack it lost without applying it twice.
      duplicate_window: nanos(2 * MINUTE_MS),
    }),
    stream("presence-actor", ["status-projector", "gateway"], {
      name: streams.events,
      subjects: [internalSubjects.allEvents],
      max_age: nanos(config.eventsMaxAgeMs),
      // Longer than a partition takeover: events re-decided by a new owner are dropped.
      duplicate_window: nanos(10 * MINUTE_MS),
      // Each stored (so de-duplicated) event goes out once on its public subject.
      republish: { src: internalSubjects.allEvents, dest: subjects.allEvents },
    }),
    stream("presence-actor", ["status-projector"], {
      name: streams.deadLetters,
      subjects: [internalSubjects.allDeadLetters],
      max_age: nanos(7 * DAY_MS),
    }),
    bucket("presence-actor", [], buckets.leases),
    bucket("presence-actor", [], buckets.snapshots),
    bucket("status-projector", ["gateway"], buckets.status),
    bucket("status-projector", ["gateway"], buckets.members),
  ];
}

/** The resources `component` owns or reads. */
export function resourcesFor(config: Config, component: Component): readonly ResourceSpec[] {
  return resourceSpecs(config).filter((r) => r.owner === component || r.readers.includes(component));
}

/** Thrown when a resource exists with a configuration Herald cannot work with. */
export class ResourceConflictError extends Error {
  override readonly name = "ResourceConflictError";
}

const STREAM_NAME_IN_USE = 10058;

async function ensureStream(jsm: JetStreamManager, spec: StreamSpec, log: Logger): Promise<StreamInfo> {
  const { config } = spec;
  let info: StreamInfo;
  try {
    // Creating a stream with the same configuration again succeeds, so concurrent starts are safe.
    info = await jsm.streams.add(config);
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== STREAM_NAME_IN_USE) throw err;
    // It exists with another configuration (an older version, or changed settings): update it.
    log.info({ stream: config.name }, "updating stream configuration");
    try {
      info = await jsm.streams.update(config.name, config);
    } catch (updateErr) {
      throw new ResourceConflictError(
        `stream ${config.name} exists with a configuration that cannot be updated: ${(updateErr as Error).message}`,
      );
    }
  }
  const missing = config.subjects.filter((s) => !info.config.subjects?.includes(s));
  if (missing.length > 0) {
    throw new ResourceConflictError(`stream ${config.name} does not capture ${missing.join(", ")}`);
  }
  return info;
}

async function ensureBucket(nc: NatsConnection, spec: BucketSpec): Promise<void> {
  // Kvm.create opens the bucket when it exists and creates it (idempotently) when it does not.
  await new Kvm(nc).create(spec.name, spec.options);
}

/** Creates or verifies every resource `component` owns or reads. Safe to run concurrently. */
export async function ensureResources(
  nc: NatsConnection,
  jsm: JetStreamManager,
  config: Config,
  component: Component,
  log: Logger,
): Promise<void> {
  for (const spec of resourcesFor(config, component)) {
    if (spec.kind === "stream") {
      const info = await ensureStream(jsm, spec, log);
      log.debug({ stream: spec.config.name, messages: info.state.messages }, "stream ready");
    } else {
      await ensureBucket(nc, spec);
      log.debug({ bucket: spec.name }, "bucket ready");
    }
  }
}
