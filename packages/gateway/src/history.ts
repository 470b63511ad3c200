/**
 * `history` and `status_at`, read from the public events of the events stream. The reading
 * itself is behind the EventLog port (JetStream in event-log.ts, an array in tests); what to
 * collect and when to stop is decided here.
 *
 * The stream can only seek by its own timestamps, which are close to but not the same as the
 * events' `at_ms` (stamped by a gateway, stored a little later by presence-actor, possibly on
 * another clock). So reading starts CLOCK_SLACK_MS before `since_ms`, stops CLOCK_SLACK_MS
 * after `until_ms`, and the events themselves are filtered by `at_ms`.
 */
import { internalSubjects, limits, type ParamsByMethod, type Status } from "@herald/protocol";
import { tuning } from "./tuning.js";

type HistoryParams = ParamsByMethod["history"];
type StatusAtParams = ParamsByMethod["status_at"];

export const CLOCK_SLACK_MS = tuning.historyClockSlackMs;

export interface EventLog {
  /**
   * Calls `visit` with each stored event on `subject` (decoded JSON), oldest first, starting
   * at stream time `fromMs` (the beginning when undefined), until `visit` returns false or no
   * event is left.
   */
  scan(subject: string, fromMs: number | undefined, visit: (event: unknown) => boolean): Promise<void>;
  /** The newest stored event on `subject`, or undefined. */
  last(subject: string): Promise<unknown>;
}

/** A stored public event: a JSON object with its time. */
export interface StoredEvent {
  readonly at_ms: number;
  readonly type?: unknown;
  readonly status?: unknown;
}

export function asStoredEvent(value: unknown): StoredEvent | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const at = (value as { at_ms?: unknown }).at_ms;
  return typeof at === "number" && Number.isFinite(at) ? (value as StoredEvent) : undefined;
}

/** Collects the events with `since ≤ at_ms ≤ until`, oldest first, at most `limit`. */
export class HistoryWindow {
  readonly events: StoredEvent[] = [];
  readonly #since: number;
  readonly #until: number;
  readonly #limit: number;

  constructor(params: Pick<HistoryParams, "since_ms" | "until_ms" | "limit">) {
    this.#since = params.since_ms ?? 0;
    this.#until = params.until_ms ?? Number.POSITIVE_INFINITY;
    this.#limit = params.limit ?? limits.historyDefault;
  }

  /** Where to start reading (stream time), or undefined for the beginning. */
  get fromMs(): number | undefined {
    const from = this.#since - CLOCK_SLACK_MS;
    return from > 0 ? from : undefined;
  }

  /** Takes the next stored event; false when no later one can belong to the window. */
  offer(value: unknown): boolean {
    const event = asStoredEvent(value);
    if (event === undefined) return true;
    if (event.at_ms > this.#until + CLOCK_SLACK_MS) return false;
    if (event.at_ms >= this.#since && event.at_ms <= this.#until) this.events.push(event);
    return this.events.length < this.#limit;
  }
}

const STATUSES: ReadonlySet<unknown> = new Set<Status>(["online", "away", "offline"]);

function statusOf(value: unknown): { at_ms: number; status: Status } | undefined {
  const event = asStoredEvent(value);
  if (event === undefined || event.type !== "status" || !STATUSES.has(event.status)) return undefined;
  return { at_ms: event.at_ms, status: event.status as Status };
}

/** The status of the last status event at or before `atMs`; offline when there is none. */
export class StatusAtFold {
  status: Status = "offline";
  readonly #at: number;

  constructor(atMs: number) {
    this.#at = atMs;
  }

  offer(value: unknown): boolean {
    const event = statusOf(value);
    if (event === undefined) return true;
    if (event.at_ms > this.#at + CLOCK_SLACK_MS) return false;
    if (event.at_ms <= this.#at) this.status = event.status;
    return true;
  }
}

export async function readHistory(log: EventLog, params: HistoryParams): Promise<{ events: StoredEvent[] }> {
  const subject =
    params.user !== undefined
      ? internalSubjects.userEvent(params.user)
      : internalSubjects.channelEvent(params.channel ?? "");
  const window = new HistoryWindow(params);
  await log.scan(subject, window.fromMs, (event) => window.offer(event));
  return { events: window.events };
}

async function statusAt(log: EventLog, user: string, atMs: number): Promise<Status> {
  const subject = internalSubjects.userEvent(user);
  // Usually the newest event answers alone: no event at all, or one before the time asked.
  const last = await log.last(subject);
  if (last === undefined) return "offline";
  const newest = statusOf(last);
  if (newest !== undefined && newest.at_ms <= atMs) return newest.status;
  const fold = new StatusAtFold(atMs);
  await log.scan(subject, undefined, (event) => fold.offer(event));
  return fold.status;
}

/** Runs `fn` over `items` with at most `limit` at a time; results in item order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export async function readStatusAt(
  log: EventLog,
  params: StatusAtParams,
): Promise<{ statuses: { user: string; status: Status }[] }> {
  const distinct = [...new Set(params.users)];
  const found = await mapLimit(distinct, tuning.statusAtConcurrency, (user) =>
    statusAt(log, user, params.at_ms),
  );
  const byUser = new Map(distinct.map((user, i) => [user, found[i] ?? "offline"] as const));
  return { statuses: params.users.map((user) => ({ user, status: byUser.get(user) ?? "offline" })) };
}
