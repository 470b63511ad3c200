/**
 * The base of Herald's internal errors (none is an API answer), and the protocol package's own.
 * Every internal error class has a stable `code` (`HERALD_*`) for logs and alerts; each
 * package lists its own in its `errors.ts`.
 */

export abstract class HeraldInternalError extends Error {
  /** Stable, for logs and alerts. */
  abstract readonly code: string;
}

/** One variable that failed validation. */
export interface ConfigProblem {
  readonly variable: string;
  readonly message: string;
}

/** Thrown by {@link loadConfig}; the message names every bad variable and its accepted values. */
export class ConfigError extends HeraldInternalError {
  override readonly name = "ConfigError";
  readonly code = "HERALD_CONFIG";
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join("\n")}`);
  }
}

/** A message on an internal stream that cannot be decoded or fails its schema. */
export class InvalidMessageError extends HeraldInternalError {
  override readonly name = "InvalidMessageError";
  readonly code = "HERALD_INVALID_MESSAGE";
}
