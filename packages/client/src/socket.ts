/**
 * The part of the WebSocket API the client uses. The browser's `WebSocket` and the `ws`
 * package's both fit; handlers are typed with `never` arguments so that either's own event
 * types are accepted.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}

/** A WebSocket constructor: `globalThis.WebSocket` in browsers, `WebSocket` from `ws` in Node. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `readyState` of an open socket. */
export const OPEN = 1;

/** What the client reads from a message event. */
export interface MessageEventLike {
  readonly data: unknown;
}

/** What the client reads from a close event. */
export interface CloseEventLike {
  readonly code: number;
  readonly reason: string;
}

const utf8 = new TextDecoder();

/** A text frame's payload as a string (`ws` may hand over a Buffer, browsers an ArrayBuffer). */
export function frameText(data: unknown): string | undefined {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return utf8.decode(data);
  if (ArrayBuffer.isView(data)) return utf8.decode(data);
  return undefined;
}

/** Compile-time proof that the browser's WebSocket fits {@link WebSocketConstructor} (emits no code). */
export type BrowserWebSocketFits = FitsConstructor<typeof WebSocket>;
type FitsConstructor<T extends WebSocketConstructor> = T;
