/**
 * The CLI's errors, each with the exit code it ends the process with: 1 for a failure (NATS,
 * an API error), 2 for a command line that is wrong (as most tools, and `nats`).
 */

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A failure to report in one line (no stack): exit 1. */
export class CliError extends Error {
  readonly exitCode: number = EXIT_FAILURE;
}

/** A wrong command line or argument value: exit 2. The message names the option or argument. */
export class UsageError extends CliError {
  override readonly exitCode = EXIT_USAGE;
}

/** An error reply of the API (`{"error": {code, message}}`, CONTRACT.md §4): exit 1. */
export class ApiError extends CliError {
  constructor(
    readonly method: string,
    readonly code: number,
    readonly detail: string,
  ) {
    super(`${method}: error ${code}: ${detail}`);
  }
}

/** NATS could not be reached or refused the credentials. */
export class ConnectError extends CliError {}
