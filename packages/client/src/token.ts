/**
 * What the client reads from its JWT: only `exp`, to refresh in time. Nothing is verified here
 * (the server does that); a token whose payload cannot be read is used until the server says no.
 */

/** Refresh at this share of the remaining lifetime… */
export const REFRESH_AT_SHARE = 0.9;
/** …and at least this long before the token expires. */
export const REFRESH_MIN_AHEAD_MS = 5_000;

/** The token's `exp` in unix milliseconds, or undefined when it has none or cannot be read. */
export function tokenExpiryMs(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined || payload === "") return undefined;
  try {
    const b64 = payload.replaceAll("-", "+").replaceAll("_", "/");
    const binary = atob(b64.padEnd(b64.length + ((4 - (b64.length % 4)) % 4), "="));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof claims !== "object" || claims === null) return undefined;
    const exp = (claims as { exp?: unknown }).exp;
    return typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How long from `nowMs` to wait before refreshing a token that expires at `expMs`: at 90% of the
 * remaining lifetime, but at least 5 s before expiry; 0 when that moment has passed.
 */
export function refreshDelayMs(expMs: number, nowMs: number): number {
  const remaining = expMs - nowMs;
  return Math.max(0, Math.floor(Math.min(remaining * REFRESH_AT_SHARE, remaining - REFRESH_MIN_AHEAD_MS)));
}
