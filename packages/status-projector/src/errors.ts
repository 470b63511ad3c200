/** Errors status-projector raises; none of them is an API answer. */

import { HeraldInternalError } from "@herald/protocol";

/** Base of status-projector's errors; `code` is stable for logs and alerts. */
export class ProjectorError extends HeraldInternalError {
  override readonly name: string = "ProjectorError";
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A key kept changing under the projector (another writer) for every attempt of a write. */
export class WriteConflictError extends ProjectorError {
  override readonly name = "WriteConflictError";
  constructor(
    readonly bucket: string,
    readonly key: string,
    attempts: number,
  ) {
    super("HERALD_PROJECTOR_WRITE_CONFLICT", `${bucket}/${key} changed during ${attempts} write attempts`);
  }
}

/** The durable consumer exists with settings the projector cannot work with. */
export class ConsumerConflictError extends ProjectorError {
  override readonly name = "ConsumerConflictError";
  constructor(message: string, options?: ErrorOptions) {
    super("HERALD_PROJECTOR_CONSUMER_CONFLICT", message, options);
  }
}

/** A rebuild suffix that cannot be part of a bucket name. */
export class InvalidSuffixError extends ProjectorError {
  override readonly name = "InvalidSuffixError";
  constructor(readonly suffix: string) {
    super(
      "HERALD_PROJECTOR_INVALID_SUFFIX",
      `suffix ${JSON.stringify(suffix)} is not allowed: use one or more of A-Z a-z 0-9 _ -`,
    );
  }
}

/** The rebuild found no events stream to read facts from. */
export class EventsStreamMissingError extends ProjectorError {
  override readonly name = "EventsStreamMissingError";
  constructor(stream: string, options?: ErrorOptions) {
    super("HERALD_PROJECTOR_NO_EVENTS", `stream ${stream} not found: no facts to rebuild from`, options);
  }
}
