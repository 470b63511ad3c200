/**
 * A client wired to a {@link FakeServer}, with what it emitted recorded. Use with
 * `vi.useFakeTimers()`: time moves only through {@link advance}.
 */
import { vi } from "vitest";
import { type ClientOptions, createClient, type HeraldClient } from "../src/client.js";
import type { HeraldClientError } from "../src/errors.js";
import type { StateChange, WatchStatusEvent } from "../src/types.js";
import { FakeServer, flush, makeToken } from "./fake-server.js";

export { FakeServer, flush, makeToken };

export const WS_URL = "ws://herald.test/connection/websocket";
/** The simulated clock's start. */
export const T0 = Date.UTC(2030, 0, 1);

export interface Harness {
  readonly server: FakeServer;
  readonly client: HeraldClient;
  /** Returns a new token (valid an hour unless `tokenLifeMs` says otherwise) on each call. */
  readonly getToken: ReturnType<typeof vi.fn<() => Promise<string>>>;
  readonly states: StateChange[];
  readonly errors: HeraldClientError[];
  readonly statuses: WatchStatusEvent[];
}

export interface HarnessOptions extends Partial<ClientOptions> {
  /** Lifetime of each token getToken() hands out. Default one hour. */
  readonly tokenLifeMs?: number;
  readonly server?: FakeServer;
}

/** A client (not connected yet) on a fresh fake server; the jitter draw is 0.5 unless `random` is given. */
export function harness(opts: HarnessOptions = {}): Harness {
  const { tokenLifeMs = 3_600_000, server = new FakeServer(), ...clientOpts } = opts;
  let n = 0;
  const getToken = vi.fn(async () => makeToken("u1", Date.now() + tokenLifeMs, { n: ++n }));
  const client = createClient({
    url: WS_URL,
    getToken,
    WebSocket: server.WebSocket,
    random: () => 0.5,
    ...clientOpts,
  });
  const states: StateChange[] = [];
  const errors: HeraldClientError[] = [];
  const statuses: WatchStatusEvent[] = [];
  client.on("state", (s) => states.push(s));
  client.on("error", (e) => errors.push(e));
  client.on("status", (e) => statuses.push(e));
  return { server, client, getToken, states, errors, statuses };
}

/** A harness whose client is connected. */
export async function connected(opts: HarnessOptions = {}): Promise<Harness> {
  const h = harness(opts);
  h.client.connect();
  await flush();
  if (h.client.state !== "connected") throw new Error(`not connected: ${h.client.state}`);
  return h;
}

/** Moves the simulated clock by `ms`, then lets everything it caused run. */
export async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await flush();
}

/** Watches a promise's outcome without awaiting it. */
export function track<T>(promise: Promise<T>): { done: boolean; value?: T; error?: unknown } {
  const out: { done: boolean; value?: T; error?: unknown } = { done: false };
  promise.then(
    (value) => {
      out.done = true;
      out.value = value;
    },
    (error: unknown) => {
      out.done = true;
      out.error = error;
    },
  );
  return out;
}
