/**
 * The client in Node 20 with the `ws` package as its WebSocket, against a scripted edge on a
 * loopback port: real sockets, real timers (each step waits for an event, never for time).
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { afterEach, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { createClient } from "./client.js";
import type { MemberJoinEvent } from "./types.js";

let wss: WebSocketServer | undefined;
afterEach(async () => {
  if (wss === undefined) return;
  for (const c of wss.clients) c.terminate();
  await new Promise((resolve) => wss?.close(resolve));
});

it("connects, subscribes, gets a push right behind the snapshot, and closes with 1000", async () => {
  wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await once(wss, "listening");
  const { port } = wss.address() as AddressInfo;
  const closed = new Promise<{ code: number; path: string | undefined }>((resolve) => {
    wss?.on("connection", (sock, req) => {
      sock.on("message", (raw) => {
        const f = JSON.parse(String(raw)) as { id: number; method: string; params: Record<string, string> };
        const send = (frame: unknown) => sock.send(JSON.stringify(frame));
        if (f.method === "connect") {
          send({ id: f.id, result: { user: "u1", conn: f.params.conn ?? "c1", ttl_ms: 30_000 } });
        } else if (f.method === "subscribe") {
          // Back to back: when they arrive in one read, ws hands both to the client in the same turn.
          send({ id: f.id, result: { members: [] } });
          send({
            push: { type: "join", channel: f.params.channel, user: "bob", conn: "t", data: {}, at_ms: 1 },
          });
        } else {
          send({ id: f.id, result: {} });
        }
      });
      sock.on("close", (code) => resolve({ code, path: req.url }));
    });
  });

  const client = createClient({
    url: `ws://127.0.0.1:${port}/connection/websocket`,
    getToken: async () => "jwt",
    conn: "node-1",
    WebSocket,
  });
  client.connect();
  expect(await client.ready()).toEqual({ user: "u1", conn: "node-1", ttl_ms: 30_000 });
  const ch = client.channel("room");
  const joined = new Promise<MemberJoinEvent>((resolve) => ch.once("join", resolve));
  await ch.join({ status: "here" });
  await ch.subscribe();
  expect((await joined).user).toBe("bob");
  expect(ch.members.size).toBe(1);
  client.close();
  expect(await closed).toEqual({ code: 1000, path: "/connection/websocket" });
});
