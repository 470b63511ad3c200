/**
 * Rebuilds the KV projections from the facts in the events stream into fresh buckets beside the
 * live ones (`<bucket>_<suffix>`), and compares the two. The live buckets are never touched.
 *
 * The rebuild folds facts with the live projector's own core and writer (`readFact`, `project`,
 * `KvWriter`), so a rebuilt value is byte-equal to the live one and carries the same
 * `Herald-Fact-Seq`. It reads with an ordered consumer (ephemeral, no acks, nothing left behind
 * on the server) from the first fact up to the last one stored when it starts.
 */
import { buckets, type Config, internalSubjects, kvNames, streams } from "@herald/protocol";
import { type BucketSpec, resourceSpecs } from "@herald/runtime";
import {
  type Consumer,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type JsMsg,
  jetstreamManager,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { EventsStreamMissingError, InvalidSuffixError } from "./errors.js";
import { KvWriter } from "./kv-writer.js";
import { project, readFact, type SequencedFact } from "./project.js";
import { rebuildTuning, tuning } from "./tuning.js";

/** The buckets status-projector owns and a rebuild recreates, by live name. */
export const PROJECTIONS: readonly string[] = [buckets.status, buckets.members];

export const DEFAULT_SUFFIX = "rebuild";

/** Letters, digits, `_` and `-`: what a bucket name may hold. */
const SUFFIX = /^[A-Za-z0-9_-]+$/;

/** Throws {@link InvalidSuffixError} unless `suffix` can end a bucket name. */
export function checkSuffix(suffix: string): string {
  if (!SUFFIX.test(suffix)) throw new InvalidSuffixError(suffix);
  return suffix;
}

/** The name of the rebuilt copy of a live bucket. */
export const rebuiltName = (bucket: string, suffix: string): string => `${bucket}_${suffix}`;

export interface RebuildProgress {
  /** Facts read and applied so far. */
  readonly read: number;
  /** Facts to read: those stored when the rebuild started. */
  readonly total: number;
  readonly elapsedMs: number;
}

export interface RebuildOptions {
  /** The rebuilt buckets are `<bucket>_<suffix>` (default `rebuild`); they are deleted first. */
  readonly suffix?: string;
  /** Called after each batch is written, and once before the first. */
  readonly onProgress?: (progress: RebuildProgress) => void;
  /** Facts folded at once (default `rebuildTuning.batchMax`). */
  readonly batchMax?: number;
}

/** A fact the rebuild skipped: it could not be decoded or does not describe its key. */
export interface InvalidFact {
  readonly seq: number;
  readonly subject: string;
  readonly reason: string;
}

export interface RebuildResult {
  /** The rebuilt buckets, in the order of {@link PROJECTIONS}. */
  readonly buckets: readonly string[];
  /** Facts read (every fact stored when the rebuild started, unless some expired meanwhile). */
  readonly facts: number;
  /** Facts skipped as invalid; the first `rebuildTuning.invalidReported` are in `invalidFacts`. */
  readonly invalid: number;
  readonly invalidFacts: readonly InvalidFact[];
  /** KV writes stored (the last fact of a key in a batch wins, so fewer than facts). */
  readonly writes: number;
  /** Keys in the rebuilt buckets, deleted ones (a delete marker) included. */
  readonly keys: number;
  /**
   * The first sequence the events stream still holds. Above 1, older facts are gone (max age):
   * keys whose last fact was among them are missing from the rebuild.
   */
  readonly firstSeq: number;
  readonly elapsedMs: number;
}

const isApiError = (err: unknown, code: number): boolean =>
  err instanceof JetStreamApiError && err.code === code;

/** Deletes `name` if it exists and creates it empty, with the live bucket's settings. */
async function recreateBucket(nc: NatsConnection, jsm: JetStreamManager, spec: BucketSpec, name: string) {
  try {
    await jsm.streams.delete(kvNames.stream(name));
  } catch (err) {
    if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
  }
  await new Kvm(nc).create(name, spec.options);
}

/** Up to `max` messages of one fetch, read at once. */
async function fetchAll(consumer: Consumer, max: number, expires: number): Promise<JsMsg[]> {
  const out: JsMsg[] = [];
  for await (const m of await consumer.fetch({ max_messages: max, expires })) out.push(m);
  return out;
}

/**
 * Reads every message an ordered consumer has pending when it is created, in batches of up to
 * `batchMax`, the next fetch running while `apply` handles the last batch. Messages stored after
 * the start are left alone; messages removed meanwhile (max age) end the read early.
 */
async function readAll(
  consumer: Consumer,
  batchMax: number,
  apply: (batch: readonly JsMsg[]) => Promise<void>,
): Promise<void> {
  const total = (await consumer.info(true)).num_pending;
  const fetch = (read: number) =>
    fetchAll(consumer, Math.min(batchMax, total - read), rebuildTuning.fetchExpiresMs);
  let read = 0;
  let next = total > 0 ? fetch(0) : undefined;
  try {
    while (next !== undefined) {
      const batch = await next;
      next = undefined;
      const last = batch.at(-1);
      if (last === undefined) {
        // Nothing came: either facts expired since the count, or the server is slow.
        if ((await consumer.info()).num_pending > 0) next = fetch(read);
        continue;
      }
      read += batch.length;
      // pending 0: the stream holds no later message for this consumer (some expired).
      if (read < total && last.info.pending > 0) next = fetch(read);
      await apply(batch);
    }
  } finally {
    // A fetch still running when `apply` failed must not end in an unhandled rejection.
    next?.catch(() => {});
  }
}

/**
 * Rebuilds every projection from the facts in the events stream into `<bucket>_<suffix>`:
 * deletes and recreates those buckets (settings from the runtime's resource table), then folds
 * every fact stored so far with the live projector's core and writer. Invalid facts are counted
 * and skipped (the live projector dead-letters them). A failure leaves partial buckets behind;
 * running it again starts over.
 */
export async function rebuildProjections(
  nc: NatsConnection,
  config: Config,
  opts: RebuildOptions = {},
): Promise<RebuildResult> {
  const t0 = performance.now();
  const suffix = checkSuffix(opts.suffix ?? DEFAULT_SUFFIX);
  const batchMax = opts.batchMax ?? rebuildTuning.batchMax;
  const jsm = await jetstreamManager(nc);

  let firstSeq: number;
  try {
    firstSeq = (await jsm.streams.info(streams.events)).state.first_seq;
  } catch (err) {
    if (isApiError(err, JetStreamApiCodes.StreamNotFound)) throw new EventsStreamMissingError(streams.events);
    throw err;
  }

  const specs = resourceSpecs(config).filter((s): s is BucketSpec => s.kind === "bucket");
  const names = new Map<string, string>();
  for (const bucket of PROJECTIONS) {
    const spec = specs.find((s) => s.name === bucket);
    if (spec === undefined) throw new Error(`no resource spec for bucket ${bucket}`);
    const name = rebuiltName(bucket, suffix);
    await recreateBucket(nc, jsm, spec, name);
    names.set(bucket, name);
  }
  const writer = await KvWriter.open(jsm, [...names.values()], {
    casAttempts: tuning.casAttempts,
    concurrency: tuning.writeConcurrency,
    knownKeys: tuning.knownKeys,
  });

  const consumer = await jsm.jetstream().consumers.get(streams.events, {
    filter_subjects: internalSubjects.allFacts,
    deliver_policy: DeliverPolicy.All,
  });
  const total = (await consumer.info(true)).num_pending;
  const progress = (read: number, end = total) =>
    opts.onProgress?.({ read, total: end, elapsedMs: performance.now() - t0 });
  let read = 0;
  let writes = 0;
  let invalid = 0;
  const invalidFacts: InvalidFact[] = [];
  progress(0);
  try {
    await readAll(consumer, batchMax, async (batch) => {
      const facts: SequencedFact[] = [];
      for (const msg of batch) {
        const fact = readFact(msg.seq, msg.data, msg.subject);
        if (fact.ok) {
          if (fact.fact !== undefined) facts.push(fact.fact);
        } else if (invalid++ < rebuildTuning.invalidReported)
          invalidFacts.push({ seq: msg.seq, subject: msg.subject, reason: fact.reason });
      }
      // The live projector's writes, aimed at the rebuilt buckets instead of the live ones.
      const rebuilt = project(facts).map((w) => ({ ...w, bucket: rebuiltName(w.bucket, suffix) }));
      writes += (await writer.writeAll(rebuilt)).applied;
      read += batch.length;
      progress(read);
    });
  } finally {
    await consumer.delete().catch(() => {});
  }
  // Facts that expired during the read were counted in `total`: end the progress at what was read.
  if (read < total) progress(read, read);

  let keys = 0;
  for (const name of names.values())
    keys += (await jsm.streams.info(kvNames.stream(name))).state.num_subjects ?? 0;
  return {
    buckets: [...names.values()],
    facts: read,
    invalid,
    invalidFacts,
    writes,
    keys,
    firstSeq,
    elapsedMs: performance.now() - t0,
  };
}

/** How a live bucket and its rebuilt copy differ (keys holding a value; deleted keys are absent). */
export interface BucketDiff {
  readonly bucket: string;
  readonly rebuilt: string;
  /** Keys with a value in each. */
  readonly liveKeys: number;
  readonly rebuiltKeys: number;
  /** Keys live has and the rebuild lacks. */
  readonly missing: readonly string[];
  /** Keys the rebuild has and live lacks. */
  readonly extra: readonly string[];
  /** Keys in both whose values are not byte-equal. */
  readonly different: readonly string[];
}

/** The number of differing keys over every bucket. */
export const differences = (diffs: readonly BucketDiff[]): number =>
  diffs.reduce((n, d) => n + d.missing.length + d.extra.length + d.different.length, 0);

/** The value of every key that holds one (deletes and purges drop the key), read in one pass. */
async function readBucket(jsm: JetStreamManager, bucket: string): Promise<Map<string, Uint8Array>> {
  const prefix = kvNames.subject(bucket, "");
  const consumer = await jsm.jetstream().consumers.get(kvNames.stream(bucket), {
    filter_subjects: kvNames.subject(bucket, ">"),
    deliver_policy: DeliverPolicy.LastPerSubject,
  });
  const values = new Map<string, Uint8Array>();
  try {
    await readAll(consumer, rebuildTuning.batchMax, async (batch) => {
      for (const m of batch) {
        const key = m.subject.slice(prefix.length);
        const op = m.headers?.get(kvNames.operationHeader) ?? "";
        if (op === "" || op === "PUT") values.set(key, m.data);
        else values.delete(key);
      }
    });
  } finally {
    await consumer.delete().catch(() => {});
  }
  return values;
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

/**
 * Compares every live projection with its rebuilt copy `<bucket>_<suffix>`, key by key and
 * byte by byte. Meaningful once the live projector has applied the facts the rebuild read.
 */
export async function compareProjections(
  nc: NatsConnection,
  suffix: string = DEFAULT_SUFFIX,
): Promise<BucketDiff[]> {
  checkSuffix(suffix);
  const jsm = await jetstreamManager(nc);
  const diffs: BucketDiff[] = [];
  for (const bucket of PROJECTIONS) {
    const rebuilt = rebuiltName(bucket, suffix);
    const [live, copy] = await Promise.all([readBucket(jsm, bucket), readBucket(jsm, rebuilt)]);
    const missing: string[] = [];
    const different: string[] = [];
    for (const [key, value] of live) {
      const other = copy.get(key);
      if (other === undefined) missing.push(key);
      else if (!sameBytes(value, other)) different.push(key);
    }
    const extra = [...copy.keys()].filter((key) => !live.has(key));
    diffs.push({
      bucket,
      rebuilt,
      liveKeys: live.size,
      rebuiltKeys: copy.size,
      missing: missing.sort(),
      extra: extra.sort(),
      different: different.sort(),
    });
  }
  return diffs;
}
