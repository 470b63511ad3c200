/** A bare WebSocket client of CONTRACT.md §8 for tests: requests by id, pushes collected, close seen. */
import { SignJWT } from "jose";
import WebSocket from "ws";

export interface Reply {
  id?: number;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

export type Push = Record<string, unknown> & { type: string };

export class WsClient {
  readonly pushes: Push[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #id = 0;
  readonly #waiting = new Map<number, (r: Reply) => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const msg = JSON.parse(data.toString()) as Reply & { push?: Push };
      if (msg.push !== undefined) this.pushes.push(msg.push);
      else if (msg.id !== undefined) this.#waiting.get(msg.id)?.(msg);
    });
    this.closed = new Promise((resolve) =>
      ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  /** Opens a socket; `autoPong: false` makes a peer that never answers pings (a dead one). */
  static async open(baseUrl: string, o: { autoPong?: boolean } = {}): Promise<WsClient> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/connection/websocket`, {
      autoPong: o.autoPong ?? true,
    });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return new WsClient(ws);
  }

  /** Sends a request and waits for its reply. */
  call(method: string, params: unknown = {}): Promise<Reply> {
    const id = ++this.#id;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, resolve);
      this.ws.send(JSON.stringify({ id, method, params }), (err) => err && reject(err));
    });
  }

  /** `call`, failing on an error reply. */
  async ok(method: string, params: unknown = {}): Promise<Record<string, unknown>> {
    const r = await this.call(method, params);
    if (r.error !== undefined) throw new Error(`${method}: ${r.error.code} ${r.error.message}`);
    return r.result ?? {};
  }

  close(): void {
    this.ws.close(1000);
  }
}

/** An HS256 client token for `sub`, valid `expiresInS` seconds, with extra claims. */
export function signToken(
  secret: string,
  sub: string,
  claims: Record<string, unknown> = {},
  expiresInS = 3600,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(now + expiresInS)
    .sign(new TextEncoder().encode(secret));
}
