/**
 * The projector's durable pull consumer on the events stream: every fact, from the first,
 * acknowledged one by one (several processes may share the durable, so acknowledging "all up
 * to here" could cover another process's facts).
 */
import { internalSubjects, streams } from "@herald/protocol";
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  JetStreamApiError,
  type JetStreamManager,
  ReplayPolicy,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { ConsumerConflictError } from "./errors.js";
import { tuning } from "./tuning.js";

/** The consumer's configuration. */
export function consumerConfig(name: string): ConsumerConfig {
  return {
    durable_name: name,
    description: "status-projector: folds facts into the presence KV buckets",
    filter_subject: internalSubjects.allFacts,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    max_ack_pending: tuning.maxAckPending,
    ack_wait: nanos(tuning.ackWaitMs),
  };
}

/**
 * Creates the consumer, or checks the existing one and brings its updatable settings up to date.
 * Creating with an identical configuration is idempotent, so several processes may start at once.
 */
export async function ensureConsumer(jsm: JetStreamManager, name: string): Promise<ConsumerInfo> {
  const want = consumerConfig(name);
  try {
    return await jsm.consumers.add(streams.events, want);
  } catch (err) {
    if (!(err instanceof JetStreamApiError)) throw err;
    // Most likely it exists with other settings (an older version of this worker).
    let info: ConsumerInfo;
    try {
      info = await jsm.consumers.info(streams.events, name);
    } catch {
      throw err;
    }
    const have = info.config;
    const fixed = (["filter_subject", "ack_policy", "deliver_policy"] as const).filter(
      (k) => have[k] !== want[k],
    );
    if (fixed.length > 0 || have.deliver_subject !== undefined) {
      throw new ConsumerConflictError(
        `consumer ${name} on ${streams.events} exists with other ${[...fixed, ...(have.deliver_subject === undefined ? [] : ["deliver_subject"])].join(", ")}; delete it to let status-projector recreate it`,
        { cause: err },
      );
    }
    return jsm.consumers.update(streams.events, name, {
      description: want.description,
      max_ack_pending: want.max_ack_pending,
      ack_wait: want.ack_wait,
    });
  }
}
