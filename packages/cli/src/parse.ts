/**
 * Parsing of argument values: durations (`90s`, `10m`, `1h30m`), times (ISO 8601, unix ms,
 * relative to now, a local clock time), counts and JSON. Pure: the time `now` comes in as an
 * argument. Each throws a {@link UsageError} that names the option and what was expected.
 */
import { UsageError } from "./errors.js";

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** `500ms`, `10s`, `10m`, `1h30m`, `2d`; a bare number is seconds. Undefined when not a duration. */
export function durationMs(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(t)) return undefined;
  let total = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  }
  return Math.round(total);
}

/** {@link durationMs} for an option: throws naming it unless a positive duration. */
export function parseDuration(text: string, what: string): number {
  const ms = durationMs(text);
  if (ms === undefined)
    throw new UsageError(`invalid ${what}: ${JSON.stringify(text)} is not a duration (like 30s, 10m, 1h30m)`);
  if (ms <= 0) throw new UsageError(`invalid ${what}: must be more than 0, got ${JSON.stringify(text)}`);
  return ms;
}

const TIME_HELP = "ISO 8601 like 2025-05-01T12:00:00Z, unix ms, relative like 10m or -10m (ago), or now";

/**
 * A point in time (unix ms): `now`; unix milliseconds (digits); a duration relative to now,
 * in the past without a sign or with `-` (`10m`, `-10m`: ten minutes ago), in the future with
 * `+`; a local clock time today (`14:30`, `14:30:05`); or an ISO 8601 date or date-time
 * (a date-time without a zone is local time, as JavaScript reads it).
 */
export function parseTime(text: string, what: string, nowMs: number): number {
  const t = text.trim();
  if (t === "now") return nowMs;
  if (/^\d+$/.test(t)) return Number(t);
  const rel = /^([+-]?)(.+)$/.exec(t);
  if (rel !== null) {
    const ms = durationMs(rel[2] as string);
    if (ms !== undefined && !/^\d+(\.\d+)?$/.test(rel[2] as string))
      return rel[1] === "+" ? nowMs + ms : nowMs - ms;
  }
  const clock = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(t);
  if (clock !== null) {
    const [h, m, s] = [Number(clock[1]), Number(clock[2]), Number(clock[3] ?? 0)];
    if (h > 23 || m > 59 || s > 59)
      throw new UsageError(`invalid ${what}: ${JSON.stringify(text)} is not a clock time`);
    const d = new Date(nowMs);
    d.setHours(h, m, s, 0);
    return d.getTime();
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new UsageError(`invalid ${what}: ${JSON.stringify(text)} is not a time (${TIME_HELP})`);
}

/** An integer in `[min, max]`. */
export function parseIntIn(text: string, what: string, min: number, max: number): number {
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) throw new UsageError(`invalid ${what}: ${JSON.stringify(text)} is not an integer`);
  const n = Number(t);
  if (n < min || n > max) throw new UsageError(`invalid ${what}: must be ${min}..${max}, got ${n}`);
  return n;
}

/** A positive number (a rate): decimals allowed. */
export function parsePositive(text: string, what: string): number {
  const n = Number(text.trim());
  if (text.trim() === "" || !Number.isFinite(n) || n <= 0)
    throw new UsageError(`invalid ${what}: ${JSON.stringify(text)} is not a number above 0`);
  return n;
}

/** A JSON object (the params of a method). */
export function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`invalid ${what}: not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new UsageError(`invalid ${what}: must be a JSON object, like '{"users":["42"]}'`);
  return value as Record<string, unknown>;
}

const NEGATIVE_DURATION = /^-\d+(\.\d+)?(ms|s|m|h|d)(\d+(\.\d+)?(ms|s|m|h|d))*$/;

/**
 * `herald at -10m 42`: an argument like `-10m` would be read as an option. A negative duration
 * after the `at` command is written without its sign, which means the same (ago).
 */
export function normaliseArgs(args: readonly string[]): string[] {
  const at = args.indexOf("at");
  const end = args.indexOf("--");
  if (at === -1 || (end !== -1 && end < at)) return [...args];
  return args.map((a, i) =>
    i > at && (end === -1 || i < end) && NEGATIVE_DURATION.test(a) ? a.slice(1) : a,
  );
}
