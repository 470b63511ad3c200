/** The internal errors of the protocol package (none is an API answer). */

/** One variable that failed validation. */
export interface ConfigProblem {
  readonly variable: string;
  readonly message: string;
}

/** Thrown by {@link loadConfig}; the message names every bad variable and its accepted values. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join("\n")}`);
  }
}

/** A message on an internal stream that cannot be decoded or fails its schema. */
export class InvalidMessageError extends Error {
  override readonly name = "InvalidMessageError";
}
