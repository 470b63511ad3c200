/** JetStream errors Herald reacts to, recognised by their API error codes. */
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

/**
 * A compare-and-set lost: the key or subject was written since the revision given (KV
 * `create`/`update`/`delete` with a revision, a publish with an expected last sequence).
 */
export function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

export function isConsumerNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound;
}
