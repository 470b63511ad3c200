/**
 * The gateway's own named errors. Each carries a public code from the protocol's ErrorCode
 * table, so the service answers it like any other HeraldError; the name says which of the
 * 503 cases it was (in logs and tests), the message says what the caller can do.
 */
import { ErrorCode, HeraldError } from "@herald/protocol";

/** 503: the in-memory view has not loaded the KV buckets yet. */
export class ViewNotReadyError extends HeraldError {
  override readonly name = "ViewNotReadyError";
  constructor() {
    super(ErrorCode.NotReady, "not ready: the gateway is still loading presence state; retry shortly");
  }
}

/** 503: too many command batches are waiting for JetStream; nothing of the request was appended. */
export class OverloadedError extends HeraldError {
  override readonly name = "OverloadedError";
  constructor(pendingBatches: number) {
    super(
      ErrorCode.NotReady,
      `overloaded: ${pendingBatches} command batches are waiting for JetStream; retry later`,
    );
  }
}

/**
 * 503: JetStream did not acknowledge the batch holding the request's commands (after retries
 * with the same message id), so the command is not known to be stored; a retry is safe.
 */
export class AppendFailedError extends HeraldError {
  override readonly name = "AppendFailedError";
  constructor(readonly reason: string) {
    super(ErrorCode.NotReady, `not acknowledged by JetStream (${reason}); retry later`);
  }
}

/**
 * 503: the owner of the user's partition did not say in time whether it applied the command
 * (no owner right now: a takeover). The command is stored and will be applied.
 */
export class VerdictTimeoutError extends HeraldError {
  override readonly name = "VerdictTimeoutError";
  constructor(readonly timeoutMs: number) {
    super(
      ErrorCode.NotReady,
      `not confirmed: the command is stored, but the owner of the user's partition did not confirm it within ${timeoutMs} ms (it is behind, or the partition is moving); it applies when an owner reaches it`,
    );
  }
}

/** 503: the gateway's connection to NATS was re-established while it waited for a verdict. */
export class VerdictLostError extends HeraldError {
  override readonly name = "VerdictLostError";
  constructor() {
    super(
      ErrorCode.NotReady,
      "not confirmed: the command is stored, but the gateway lost its connection to NATS while it waited for the owner's verdict; it applies all the same",
    );
  }
}

/** 503: the gateway is shutting down and takes no new commands. */
export class StoppingError extends HeraldError {
  override readonly name = "StoppingError";
  constructor() {
    super(ErrorCode.NotReady, "the gateway is stopping; retry on another instance");
  }
}
