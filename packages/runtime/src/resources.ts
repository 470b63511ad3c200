/**
 * The JetStream streams and KV buckets Herald runs on: their configuration (one table), who
 * owns them, and an `ensure` that is safe when several processes start at once. The owner
 * creates a resource or brings its settings up to date; a reader creates it only when it is
 * missing (so start order does not matter) and otherwise leaves its settings alone, so
 * processes with other settings never fight over them.
 */
import {
  buckets,
  type Component,
  type Config,
  internalSubjects,
  kvNames,
  objectStoreStream,
  objectStores,
  streams,
  subjects,
} from "@herald/protocol";
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
import { type NatsConnection, nanos } from "@nats-io/nats-core";
import { Objm } from "@nats-io/obj";
import type { Logger } from "pino";
import { ResourceConflictError } from "./errors.js";

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const GIB = 1024 ** 3;

type StreamSettings = Partial<StreamConfig> & { name: string; subjects: string[] };

export interface StreamSpec {
  readonly kind: "stream";
  readonly owner: Component;
  /** Components that read it and so make sure it exists before they bind to it. */
  readonly readers: readonly Component[];
  readonly config: StreamSettings;
  /** A problem with an existing stream that no update may fix, or undefined. */
  readonly verify?: (existing: StreamConfig) => string | undefined;
}

/** The command stream records the partition count in its description: `partitions=<n>`. */
export function partitionsOf(description: string | undefined): number | undefined {
  const m = /\bpartitions=(\d+)\b/.exec(description ?? "");
  return m === null ? undefined : Number(m[1]);
}

export interface BucketSpec {
  readonly kind: "bucket";
  readonly owner: Component;
  readonly readers: readonly Component[];
  readonly name: string;
  readonly options: Partial<KvOptions> & { history: number; replicas: number };
}

export interface ObjectStoreSpec {
  readonly kind: "objectstore";
  readonly owner: Component;
  readonly readers: readonly Component[];
  readonly name: string;
  readonly replicas: number;
}

export type ResourceSpec = StreamSpec | BucketSpec | ObjectStoreSpec;

/** Every stream and bucket, configured from `config`. */
export function resourceSpecs(config: Config): readonly ResourceSpec[] {
  const replicas = config.replicas;
  const stream = (
    owner: Component,
    readers: readonly Component[],
    cfg: StreamSettings,
    verify?: StreamSpec["verify"],
  ): StreamSpec => ({
    kind: "stream",
    owner,
    readers,
    ...(verify === undefined ? {} : { verify }),
    config: {
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      num_replicas: replicas,
      ...cfg,
    },
  });
  const bucket = (owner: Component, readers: readonly Component[], name: string): BucketSpec => ({
    kind: "bucket",
    owner,
    readers,
    name,
    options: { history: 1, replicas },
  });

  return [
    stream(
      "gateway",
      ["presence-actor"],
      {
        name: streams.commands,
        description: `Herald command batches; partitions=${config.partitions}`,
        // Gateways append commands (`allCommands`), each partition's owner its clock ticks
        // (`allTicks`); NATS permissions keep each to its own.
        subjects: [internalSubjects.allPartitions],
        // Commands are replayed after the newest snapshot; a day is far beyond any takeover,
        // and the size cap (reserved from the server's max_file_store) keeps a stalled consumer
        // from filling the disk. When it is reached, new commands are refused (the gateway
        // answers 503), never old ones dropped: an acknowledged command is never lost unapplied.
        max_age: nanos(DAY_MS),
        max_bytes: 4 * GIB,
        discard: DiscardPolicy.New,
        // Lets a gateway retry an append whose ack it lost without applying it twice.
        duplicate_window: nanos(2 * MINUTE_MS),
      },
      // Every process must place a user in the same partition: one count for the deployment.
      (existing) => {
        const have = partitionsOf(existing.description);
        return have === undefined || have === config.partitions
          ? undefined
          : `${streams.commands} was created with HERALD_PARTITIONS=${have}, this process has ${config.partitions}; ` +
              "every process must use the same count (changing it needs an empty command stream)";
      },
    ),
    stream("presence-actor", ["status-projector", "gateway"], {
      name: streams.events,
      subjects: [internalSubjects.allEvents, internalSubjects.allFacts],
      max_age: nanos(config.eventsMaxAgeMs),
      // Longer than a partition takeover: events re-decided by a new owner are dropped.
      duplicate_window: nanos(5 * MINUTE_MS),
      // Each stored (so de-duplicated) public event goes out once on its public subject;
      // facts are not republished.
      republish: { src: internalSubjects.allEvents, dest: subjects.allEvents },
    }),
    stream("presence-actor", ["status-projector"], {
      name: streams.deadLetters,
      subjects: [internalSubjects.allDeadLetters],
      // Capped in age and size (the oldest go first): a flood of bad messages costs disk, boundedly.
      max_age: nanos(7 * DAY_MS),
      max_bytes: GIB,
      // Lets a component dead-letter the same message again after a crash without storing it twice.
      duplicate_window: nanos(2 * MINUTE_MS),
    }),
    bucket("presence-actor", [], buckets.leases),
    bucket("presence-actor", [], buckets.checkpoints),
    { kind: "objectstore", owner: "presence-actor", readers: [], name: objectStores.snapshots, replicas },
    bucket("status-projector", ["gateway"], buckets.status),
    bucket("status-projector", ["gateway"], buckets.members),
  ];
}

/** The resources `component` owns or reads. */
export function resourcesFor(config: Config, component: Component): readonly ResourceSpec[] {
  return resourceSpecs(config).filter((r) => r.owner === component || r.readers.includes(component));
}

const STREAM_NAME_IN_USE = 10058;
const STREAM_NOT_FOUND = 10059;

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

/** Settings that the owner keeps as configured (the others are fixed at creation). */
function drifted(have: StreamConfig, want: StreamSettings): string[] {
  const keys = [
    "num_replicas",
    "max_age",
    "max_bytes",
    "discard",
    "duplicate_window",
    "subjects",
    "description",
  ] as const;
  return keys.filter((k) => want[k] !== undefined && JSON.stringify(have[k]) !== JSON.stringify(want[k]));
}

async function ensureStream(
  jsm: JetStreamManager,
  spec: StreamSpec,
  owner: boolean,
  log: Logger,
): Promise<StreamInfo> {
  const { config } = spec;
  let info: StreamInfo;
  try {
    // Creating a stream with the same configuration again succeeds, so concurrent starts are safe.
    info = await jsm.streams.add(config);
  } catch (err) {
    if (!isApiError(err, STREAM_NAME_IN_USE)) throw err;
    info = await jsm.streams.info(config.name);
    const problem = spec.verify?.(info.config);
    if (problem !== undefined) throw new ResourceConflictError(problem);
    const changed = drifted(info.config, config);
    if (owner && changed.length > 0) {
      log.info({ stream: config.name, changed }, "updating stream settings");
      try {
        info = await jsm.streams.update(config.name, { ...info.config, ...config });
      } catch (updateErr) {
        throw new ResourceConflictError(
          `stream ${config.name} has other settings (${changed.join(", ")}) that cannot be updated: ${(updateErr as Error).message}`,
        );
      }
    }
  }
  const missing = config.subjects.filter((s) => !info.config.subjects?.includes(s));
  if (missing.length > 0) {
    throw new ResourceConflictError(`stream ${config.name} does not capture ${missing.join(", ")}`);
  }
  return info;
}

async function ensureBucket(
  nc: NatsConnection,
  jsm: JetStreamManager,
  spec: BucketSpec,
  owner: boolean,
  log: Logger,
): Promise<void> {
  // Kvm.create opens the bucket when it exists and creates it (idempotently) when it does not.
  await new Kvm(nc).create(spec.name, spec.options);
  if (!owner) return;
  const stream = kvNames.stream(spec.name);
  let info: StreamInfo;
  try {
    info = await jsm.streams.info(stream);
  } catch (err) {
    if (isApiError(err, STREAM_NOT_FOUND)) throw new ResourceConflictError(`bucket ${spec.name} vanished`);
    throw err;
  }
  const want = { num_replicas: spec.options.replicas, max_msgs_per_subject: spec.options.history };
  const changed = (Object.keys(want) as (keyof typeof want)[]).filter((k) => info.config[k] !== want[k]);
  if (changed.length > 0) {
    log.info({ bucket: spec.name, changed }, "updating bucket settings");
    await jsm.streams.update(stream, { ...info.config, ...want });
  }
}

async function ensureObjectStore(
  nc: NatsConnection,
  jsm: JetStreamManager,
  spec: ObjectStoreSpec,
  owner: boolean,
  log: Logger,
): Promise<void> {
  // Like Kvm.create, Objm.create opens an existing store and creates a missing one.
  await new Objm(nc).create(spec.name, { replicas: spec.replicas });
  if (!owner) return;
  const stream = objectStoreStream(spec.name);
  const info = await jsm.streams.info(stream);
  if (info.config.num_replicas !== spec.replicas) {
    log.info({ objectStore: spec.name, changed: ["num_replicas"] }, "updating object store settings");
    await jsm.streams.update(stream, { ...info.config, num_replicas: spec.replicas });
  }
}

/**
 * Creates or verifies every resource `component` owns or reads; the owner also brings their
 * settings up to date. Safe to run concurrently.
 */
export async function ensureResources(
  nc: NatsConnection,
  jsm: JetStreamManager,
  config: Config,
  component: Component,
  log: Logger,
): Promise<void> {
  for (const spec of resourcesFor(config, component)) {
    const owner = spec.owner === component;
    if (spec.kind === "stream") {
      const info = await ensureStream(jsm, spec, owner, log);
      log.debug({ stream: spec.config.name, messages: info.state.messages, owner }, "stream ready");
    } else if (spec.kind === "bucket") {
      await ensureBucket(nc, jsm, spec, owner, log);
      log.debug({ bucket: spec.name, owner }, "bucket ready");
    } else {
      await ensureObjectStore(nc, jsm, spec, owner, log);
      log.debug({ objectStore: spec.name, owner }, "object store ready");
    }
  }
}
