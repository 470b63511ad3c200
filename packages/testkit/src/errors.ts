/** The testkit's errors; each has a stable `code`. */

/** nats-server is not installed where the testkit looks for it. */
export class NatsServerMissingError extends Error {
  override readonly name = "NatsServerMissingError";
  readonly code = "HERALD_TESTKIT_NO_NATS_SERVER";
  constructor() {
    super(
      "nats-server is not on PATH. Install it: on Debian/Ubuntu `apt-get install -y nats-server` " +
        "(run `apt-get update` first on a fresh machine), or download a release from " +
        "the NATS project and put `nats-server` on PATH.",
    );
  }
}

/** `waitFor` gave up: the condition did not come true in time. */
export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
  readonly code = "HERALD_TESTKIT_WAIT_TIMEOUT";
}

/** Thrown by a probe to stop waiting at once: the condition can no longer come true. */
export class StopWaiting extends Error {
  override readonly name = "StopWaiting";
  readonly code = "HERALD_TESTKIT_STOP_WAITING";
}
