/**
 * The WebSocket edge (CONTRACT.md §8): `GET /connection/websocket` on the gateway's HTTP
 * listener, `ws` in no-server mode. Accepts sockets once the gateway has started, pings every
 * socket once per ping interval and drops one that misses a pong (a dead peer), and on the
 * gateway's stop closes every socket (1001) and ends its conn.
 *
 * Pings are spread over the interval: each socket gets one of `PING_SLOTS` slots, and one slot is
 * pinged per tick. Pinging 10,000 sockets at once made their pongs arrive together and stalled the
 * event loop for 160–250 ms, delaying every push behind it (bench/RESULTS.md).
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyInstance, Logger, Registry } from "@herald/runtime";
import { Counter, Gauge } from "prom-client";
import { type WebSocket, WebSocketServer } from "ws";
import { Close, Session, type SessionDeps } from "./session.js";

export const WEBSOCKET_PATH = "/connection/websocket";
/** Largest frame a client may send. */
export const MAX_FRAME_BYTES = 64 * 1024;
/** How many slices a ping interval is cut into. */
const PING_SLOTS = 50;

export interface EdgeOptions {
  /** What sessions need, once the gateway has started (sockets are refused 503 before). */
  readonly deps: () => Omit<SessionDeps, "closed"> | undefined;
  readonly pingMs: number;
  readonly registry: Registry;
  readonly log: Logger;
}

export class WebSocketEdge {
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  readonly #sessions = new Map<WebSocket, Session>();
  readonly #alive = new WeakSet<WebSocket>();
  /** The sockets of each ping slot; a socket keeps its slot, so it is checked once per interval. */
  readonly #slots: Set<WebSocket>[] = Array.from({ length: PING_SLOTS }, () => new Set());
  #nextSlot = 0;
  #tick = 0;
  readonly #pinger: NodeJS.Timeout;
  readonly #o: EdgeOptions;
  readonly #closes: Counter<"code">;

  constructor(http: FastifyInstance, o: EdgeOptions) {
    this.#o = o;
    const sessions = this.#sessions;
    new Gauge({
      name: "herald_websocket_connections",
      help: "Open WebSocket client connections",
      registers: [o.registry],
      collect() {
        this.set(sessions.size);
      },
    });
    this.#closes = new Counter({
      name: "herald_websocket_closed_total",
      help: "WebSocket connections closed, by close code",
      labelNames: ["code"],
      registers: [o.registry],
    });
    http.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#upgrade(req, socket, head),
    );
    http.addHook("onClose", async () => this.close());
    this.#pinger = setInterval(() => this.#ping(), Math.max(1, Math.floor(o.pingMs / PING_SLOTS)));
    this.#pinger.unref();
  }

  get size(): number {
    return this.#sessions.size;
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? "").split("?")[0];
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (path !== WEBSOCKET_PATH) {
      refuse(404, "Not Found");
      return;
    }
    const deps = this.#o.deps();
    if (deps === undefined) {
      refuse(503, "Service Unavailable");
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, deps));
  }

  #accept(ws: WebSocket, deps: Omit<SessionDeps, "closed">): void {
    const session = new Session(ws, { ...deps, closed: (code) => this.#closes.inc({ code: String(code) }) });
    this.#sessions.set(ws, session);
    const slot = this.#slots[this.#nextSlot++ % PING_SLOTS] as Set<WebSocket>;
    slot.add(ws);
    this.#alive.add(ws);
    ws.on("pong", () => this.#alive.add(ws));
    ws.on("message", (data, isBinary) => {
      if (isBinary) {
        session.close(Close.Unsupported, "binary frames are not accepted: send JSON text");
        return;
      }
      session.onFrame(data.toString());
    });
    ws.on("close", (code) => {
      this.#sessions.delete(ws);
      slot.delete(ws);
      session.ended(code);
    });
    ws.on("error", (err) => {
      // A frame over the limit, a bad frame: ws closes the socket itself (1009, 1002).
      this.#o.log.debug({ err: err.message }, "WebSocket error");
    });
  }

  /** In this tick's slot, a socket that did not answer its last ping is dropped; the others are pinged again. */
  #ping(): void {
    const slot = this.#slots[this.#tick++ % PING_SLOTS] as Set<WebSocket>;
    for (const ws of slot) {
      if (!this.#alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.#alive.delete(ws);
      ws.ping();
    }
  }

  /** Closes every socket (1001); their conns are left to time out unless the clients come back. */
  async close(): Promise<void> {
    clearInterval(this.#pinger);
    const closing = [...this.#sessions.keys()].map(
      (ws) =>
        new Promise<void>((resolve) => {
          ws.once("close", () => resolve());
          const session = this.#sessions.get(ws);
          if (session !== undefined) session.close(Close.GoingAway, "gateway stopping");
          else ws.close(Close.GoingAway, "gateway stopping");
          // A peer that does not answer the close is cut off.
          setTimeout(() => ws.terminate(), 1000).unref();
        }),
    );
    await Promise.all(closing);
    this.#wss.close();
  }
}
