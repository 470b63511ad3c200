/**
 * The live event tail: every public event (`subjects.allEvents`, one subscription per gateway
 * while a dashboard is open) is counted for the events-per-second chart, and passed to each
 * page whose filter it matches, at most {@link MAX_PER_FLUSH} per flush; the rest are counted as
 * dropped, so a busy cluster cannot flood a page. An event is decoded only when a filter needs it.
 */
import type { EventBatch, TailFilter } from "@herald/dashboard";
import { encodeToken, type PresenceEvent, subjects } from "@herald/protocol";

/** Events a page gets per flush (the monitor flushes four times a second). */
export const MAX_PER_FLUSH = 100;

const USER_PREFIX = subjects.userEventsPrefix;
const CHANNEL_PREFIX = subjects.channelEventsPrefix;

/** A filter with its ids as the subject tokens they appear as. */
interface Compiled {
  readonly filter: TailFilter;
  readonly userToken?: string;
  readonly channelToken?: string;
}

export interface TailClient {
  send(batch: EventBatch): void;
}

interface Entry {
  readonly filter: Compiled;
  queue: PresenceEvent[];
  dropped: number;
}

function compile(filter: TailFilter): Compiled {
  return {
    filter,
    ...(filter.user !== undefined ? { userToken: encodeToken(filter.user) } : {}),
    ...(filter.channel !== undefined ? { channelToken: encodeToken(filter.channel) } : {}),
  };
}

/** Whether a message on `subject` can match without decoding it (false: it cannot). */
function mayMatch(f: Compiled, subject: string): boolean {
  if (subject.startsWith(USER_PREFIX)) {
    if (f.channelToken !== undefined) return false;
    if (f.filter.type !== undefined && f.filter.type !== "status") return false;
    return f.userToken === undefined || subject.slice(USER_PREFIX.length) === f.userToken;
  }
  if (subject.startsWith(CHANNEL_PREFIX)) {
    if (f.filter.type === "status") return false;
    return f.channelToken === undefined || subject.slice(CHANNEL_PREFIX.length) === f.channelToken;
  }
  return false;
}

/** Whether {@link mayMatch} alone decides (no field of the event is needed). */
function decidedBySubject(f: Compiled, subject: string): boolean {
  return subject.startsWith(USER_PREFIX) || (f.filter.type === undefined && f.filter.user === undefined);
}

/** Whether a decoded event matches (after {@link mayMatch}). */
function matches(f: Compiled, event: PresenceEvent): boolean {
  if (f.filter.type !== undefined && event.type !== f.filter.type) return false;
  return f.filter.user === undefined || event.user === f.filter.user;
}

function decode(data: Uint8Array): PresenceEvent | undefined {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(data));
    return typeof value === "object" &&
      value !== null &&
      typeof (value as { type?: unknown }).type === "string"
      ? (value as PresenceEvent)
      : undefined;
  } catch {
    return undefined;
  }
}

export class Tail {
  readonly #clients = new Map<TailClient, Entry>();
  #count = 0;

  /** Adds a page; returns how to remove it. */
  add(client: TailClient, filter: TailFilter): () => void {
    this.#clients.set(client, { filter: compile(filter), queue: [], dropped: 0 });
    return () => this.#clients.delete(client);
  }

  /** One live event as received. */
  offer(subject: string, data: Uint8Array): void {
    this.#count++;
    let event: PresenceEvent | undefined | null = null;
    for (const entry of this.#clients.values()) {
      if (!mayMatch(entry.filter, subject)) continue;
      // A page whose batch is full only counts what it misses: no decoding for it.
      if (entry.queue.length >= MAX_PER_FLUSH && decidedBySubject(entry.filter, subject)) {
        entry.dropped++;
        continue;
      }
      if (event === null) event = decode(data);
      if (event === undefined) return;
      if (!matches(entry.filter, event)) continue;
      if (entry.queue.length < MAX_PER_FLUSH) entry.queue.push(event);
      else entry.dropped++;
    }
  }

  /** Events received since the last call. */
  takeCount(): number {
    const n = this.#count;
    this.#count = 0;
    return n;
  }

  /** Sends each page what it has waiting. */
  flush(): void {
    for (const [client, entry] of this.#clients) {
      if (entry.queue.length === 0 && entry.dropped === 0) continue;
      const batch: EventBatch = { events: entry.queue, dropped: entry.dropped };
      entry.queue = [];
      entry.dropped = 0;
      client.send(batch);
    }
  }
}
