/**
 * The one error class of the client. Server errors keep the server's code (CONTRACT.md §4 and
 * §8: 400, 401, 403, 404, 409, 413, 429, 500, 503); failures found by the client itself have
 * codes below 100, so the two never mix.
 */

/** Codes of the failures the client finds itself (server codes are all 400 and above). */
export const ClientErrorCode = {
  /** No reply within `requestTimeoutMs` (including the time spent queued while disconnected). */
  Timeout: 1,
  /** `close()` was called (or the client stopped for good) before the request was answered. */
  Closed: 2,
  /** `getToken()` failed, returned no token, or returned one that expires no later than the last. */
  Token: 3,
  /** The server sent a frame that is not JSON, or not one of §8's shapes. */
  Protocol: 4,
  /** The connection dropped while an internal request (connect, refresh, resync) was in flight. */
  Disconnected: 5,
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** Every rejection and every `error` event of the client carries one of these. */
export class HeraldClientError extends Error {
  override readonly name = "HeraldClientError";
  constructor(
    /** A server error code (≥ 400) or a {@link ClientErrorCode} (< 100). */
    readonly code: number,
    message: string,
  ) {
    super(message);
  }

  /** True when the server answered with this error (as opposed to the client finding it). */
  get fromServer(): boolean {
    return this.code >= 100;
  }
}

/** `err` as a HeraldClientError (anything else becomes `code` with its message). */
export function asClientError(err: unknown, code: number): HeraldClientError {
  if (err instanceof HeraldClientError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new HeraldClientError(code, message);
}
