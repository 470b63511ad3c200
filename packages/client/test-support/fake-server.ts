/**
 * Test support (outside src/, never built into dist/): an in-memory WebSocket and a scripted
 * Herald edge behind it (CONTRACT.md §8), for driving the client with vitest's fake timers.
 *
 * Everything the fake does happens in microtasks (opening, replies, close events), never on
 * timers, so `flush()` — one real macrotask turn — delivers all of it while the simulated clock
 * stands still.
 */
import type { WebSocketConstructor, WebSocketLike } from "../src/socket.js";

/** A frame the client sent. */
export interface SentFrame {
  readonly id: number;
  readonly method: string;
  readonly params: Record<string, unknown>;
}

/** What a handler answers: a result, an error, or nothing (the test replies by hand, or never). */
export type Reply = { result: unknown } | { error: { code: number; message: string } } | undefined;
export type Handler = (params: Record<string, unknown>, socket: FakeSocket) => Reply;

// Captured before any test fakes the timers: a real macrotask turn, not simulated time.
const realSetImmediate = globalThis.setImmediate;

/** Lets every pending microtask run (promise chains, fake socket deliveries); the clock does not move. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => realSetImmediate(resolve));
}

/** An unsigned JWT for `sub` that expires at `expMs` (rounded down to seconds). */
export function makeToken(sub: string, expMs: number, extra: Record<string, unknown> = {}): string {
  const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ sub, exp: Math.floor(expMs / 1000), ...extra })}.sig`;
}

type Listener<E> = ((event: E) => void) | null;

export class FakeSocket implements WebSocketLike {
  readyState = 0;
  readonly sent: SentFrame[] = [];
  /** How the client closed it, when it did. */
  closedBy: { code: number; reason: string } | undefined;
  onopen: Listener<Record<string, never>> = null;
  onmessage: Listener<{ data: string }> = null;
  onclose: Listener<{ code: number; reason: string }> = null;
  onerror: Listener<Record<string, never>> = null;

  constructor(
    readonly server: FakeServer,
    readonly url: string,
  ) {}

  // ---- the client's side -----------------------------------------------------------------------

  send(data: string): void {
    if (this.readyState !== 1) throw new Error(`send on a socket in readyState ${this.readyState}`);
    const frame = JSON.parse(data) as SentFrame;
    this.sent.push(frame);
    this.server.receive(this, frame);
  }

  close(code = 1000, reason = ""): void {
    if (this.readyState >= 2) return;
    this.closedBy = { code, reason };
    this.readyState = 2;
    queueMicrotask(() => this.#closed(code, reason));
  }

  // ---- the server's side -----------------------------------------------------------------------

  open(): void {
    if (this.readyState !== 0) return;
    this.readyState = 1;
    this.onopen?.({});
  }

  /** Sends a reply frame now (synchronously). */
  reply(id: number, result: unknown): void {
    this.deliver({ id, result });
  }

  replyError(id: number, code: number, message = "refused"): void {
    this.deliver({ id, error: { code, message } });
  }

  /** Sends `{"push": event}` now (synchronously). */
  push(event: Record<string, unknown>): void {
    this.deliver({ push: event });
  }

  deliver(frame: unknown): void {
    if (this.readyState !== 1) return;
    this.onmessage?.({ data: typeof frame === "string" ? frame : JSON.stringify(frame) });
  }

  /** The server closes the socket (synchronously). */
  serverClose(code: number, reason = ""): void {
    if (this.readyState === 3) return;
    this.#closed(code, reason);
  }

  /** Frames of `method` the client sent on this socket. */
  frames(method: string): SentFrame[] {
    return this.sent.filter((f) => f.method === method);
  }

  #closed(code: number, reason: string): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

/**
 * The scripted edge: accepts sockets, answers `connect` and the other methods from its state
 * (members per channel, statuses per user) or from per-method handlers set by the test.
 */
export class FakeServer {
  readonly sockets: FakeSocket[] = [];
  /** When false, a new socket fails to open (closed 1006 in a microtask). */
  accept = true;
  /** The user every `connect` answers with. */
  user = "u1";
  /** Conn id given when `connect` names none. */
  generatedConn = "gen-1";
  readonly members = new Map<string, Record<string, unknown>[]>();
  readonly statuses = new Map<string, Record<string, unknown>>();
  /** Per-method handlers, consulted before the defaults. */
  readonly handlers = new Map<string, Handler>();

  /** The constructor to pass as the client's `WebSocket` option. */
  readonly WebSocket: WebSocketConstructor;

  constructor() {
    const server = this;
    this.WebSocket = class extends FakeSocket {
      constructor(url: string) {
        super(server, url);
        server.sockets.push(this);
        queueMicrotask(() => {
          if (server.accept) this.open();
          else this.serverClose(1006);
        });
      }
    };
  }

  /** The newest socket. */
  get last(): FakeSocket {
    const s = this.sockets.at(-1);
    if (s === undefined) throw new Error("no socket yet");
    return s;
  }

  /** Frames of `method` sent on any socket, oldest first. */
  frames(method: string): SentFrame[] {
    return this.sockets.flatMap((s) => s.frames(method));
  }

  receive(socket: FakeSocket, frame: SentFrame): void {
    const reply = (this.handlers.get(frame.method) ?? ((p, s) => this.#default(frame.method, p, s)))(
      frame.params,
      socket,
    );
    if (reply === undefined) return;
    queueMicrotask(() => socket.deliver({ id: frame.id, ...reply }));
  }

  #default(method: string, params: Record<string, unknown>, _socket: FakeSocket): Reply {
    switch (method) {
      case "connect":
        return {
          result: {
            user: this.user,
            conn: (params.conn as string | undefined) ?? this.generatedConn,
            ttl_ms: 30_000,
          },
        };
      case "subscribe":
      case "presence":
        return { result: { members: this.members.get(params.channel as string) ?? [] } };
      case "watch":
      case "get_user_status":
        return {
          result: {
            statuses: (params.users as string[]).map(
              (user) => this.statuses.get(user) ?? { user, status: "offline" },
            ),
          },
        };
      default:
        return { result: {} };
    }
  }
}
