/**
 * The API's error codes (CONTRACT.md §4) and the named errors that carry them. Every failure a
 * client can see is one of these; anything else is a bug and is answered 500.
 */

import { echo } from "./limits.js";

export const ErrorCode = {
  InvalidParams: 400,
  UnknownMethod: 404,
  Conflict: 409,
  TooLarge: 413,
  RateLimited: 429,
  Internal: 500,
  NotReady: 503,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base of every error Herald answers with; `code` is the public error code. */
export class HeraldError extends Error {
  override readonly name: string = "HeraldError";
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** The public reply body `{"error": {code, message}}`. */
  toJSON(): { error: { code: number; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** 400: bad JSON, wrong type, missing or unknown field, id rules broken, bad values. */
export class InvalidParamsError extends HeraldError {
  override readonly name = "InvalidParamsError";
  constructor(message: string) {
    super(ErrorCode.InvalidParams, message);
  }
}

/** 404: no such method. */
export class UnknownMethodError extends HeraldError {
  override readonly name = "UnknownMethodError";
  constructor(readonly method: string) {
    super(ErrorCode.UnknownMethod, `unknown method ${JSON.stringify(echo(method))}`);
  }
}

/** 409: the command conflicts with the current state (e.g. `update` of a channel not joined). */
export class ConflictError extends HeraldError {
  override readonly name = "ConflictError";
  constructor(message: string) {
    super(ErrorCode.Conflict, message);
  }
}

/** 413: payload, `data` or batch over its limit. */
export class TooLargeError extends HeraldError {
  override readonly name = "TooLargeError";
  constructor(message: string) {
    super(ErrorCode.TooLarge, message);
  }
}

/** 429: the caller sends faster than allowed. */
export class RateLimitedError extends HeraldError {
  override readonly name = "RateLimitedError";
  constructor(message: string) {
    super(ErrorCode.RateLimited, message);
  }
}

/** 503: not ready yet, or overloaded; retry later. */
export class NotReadyError extends HeraldError {
  override readonly name = "NotReadyError";
  constructor(message: string) {
    super(ErrorCode.NotReady, message);
  }
}

/** Maps any thrown value to a HeraldError; unknown errors become 500 without leaking details. */
export function toHeraldError(err: unknown): HeraldError {
  if (err instanceof HeraldError) return err;
  return new HeraldError(ErrorCode.Internal, "internal error");
}

// ---- errors that are not API answers --------------------------------------------------------

/** Thrown by {@link decodeToken} for a string that no id encodes to. */
export class InvalidTokenError extends Error {
  override readonly name = "InvalidTokenError";
  /** Stable, for logs. */
  readonly code = "HERALD_INVALID_TOKEN";
  constructor(readonly token: string) {
    super(`not a Herald token: ${JSON.stringify(token)}`);
  }
}
