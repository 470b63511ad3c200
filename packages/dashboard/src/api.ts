/**
 * The page's calls to its gateway. With a key required, the key the operator typed is kept in
 * sessionStorage (this tab only, gone when it closes) and sent as `X-API-Key` on every call.
 * The stream is read with `fetch` (EventSource cannot send headers).
 */
import { SseParser } from "./sse.js";
import { paths, type Session, type TailFilter } from "./wire.js";

const STORAGE_KEY = "herald.dashboard.key";

export class Unauthorized extends Error {
  constructor() {
    super("the API key is missing or wrong");
  }
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const apiKey = {
  get: (): string | null => sessionStorage.getItem(STORAGE_KEY),
  set: (key: string): void => sessionStorage.setItem(STORAGE_KEY, key),
  clear: (): void => sessionStorage.removeItem(STORAGE_KEY),
};

function headers(): Record<string, string> {
  const key = apiKey.get();
  return key === null ? {} : { "x-api-key": key };
}

function url(path: string, params: Readonly<Record<string, string | undefined>>): URL {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") u.searchParams.set(k, v);
  return u;
}

/** Whether this gateway needs a key, and whether the stored one is right (never a 401). */
export async function session(): Promise<Session> {
  const res = await fetch(paths.session, { headers: headers(), cache: "no-store" });
  return (await res.json()) as Session;
}

export async function get<T>(
  path: string,
  params: Readonly<Record<string, string | undefined>> = {},
): Promise<T> {
  const res = await fetch(url(path, params), { headers: headers(), cache: "no-store" });
  if (res.status === 401) throw new Unauthorized();
  const body = (await res.json()) as { error?: { message?: string } };
  if (!res.ok) throw new ApiError(res.status, body.error?.message ?? res.statusText);
  return body as T;
}

/**
 * Reads the stream until it ends (resolves) or fails (throws; {@link Unauthorized} for a 401);
 * `signal` stops it. Each message's data is JSON.
 */
export async function readStream(
  filter: TailFilter,
  on: { open(): void; message(event: string, data: unknown): void },
  signal: AbortSignal,
): Promise<void> {
  const res = await fetch(url(paths.stream, { ...filter }), {
    headers: headers(),
    cache: "no-store",
    signal,
  });
  if (res.status === 401) throw new Unauthorized();
  if (!res.ok || res.body === null) throw new ApiError(res.status, `the stream was refused (${res.status})`);
  on.open();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    for (const m of parser.push(value)) on.message(m.event, JSON.parse(m.data));
  }
}
