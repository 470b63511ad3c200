/**
 * The client SDK (`@herald/client`, in Node with `ws`) against gateway processes: two users see
 * each other through `channel().subscribe()` and `watch()`; then their gateway stops (killed, or
 * a clean stop of a rolling restart) and the load balancer (a proxy) sends them to the other
 * gateway: the SDK reconnects with the same conn, joins again and resynchronises its
 * subscription and watch, and nobody sees a leave, an offline or a stale member.
 */
import { createClient, type HeraldClient } from "@herald/client";
import { COMPONENTS } from "@herald/protocol";
import { NatsServer, WorkerProcess, waitFor } from "@herald/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { FreezableProxy } from "./support/freezable-proxy.js";
import { signToken } from "./support/ws-client.js";

const SECRET = "an-sdk-test-secret-of-32-bytes-long!";

describe("the client SDK against the gateways", () => {
  let server: NatsServer;
  const workers: WorkerProcess[] = [];
  let proxy: FreezableProxy;
  const clients: HeraldClient[] = [];
  let gwA: string;
  let gwB: string;
  let gwC: string;
  const gateways = new Map<string, WorkerProcess>();

  const client = (user: string, conn: string) => {
    const c = createClient({
      url: `${proxy.url.replace(/^http/, "ws")}/connection/websocket`,
      getToken: () => signToken(SECRET, user, {}, 600),
      conn,
      WebSocket: WebSocket as never,
      reconnect: { minDelayMs: 100, maxDelayMs: 500 },
    });
    clients.push(c);
    c.connect();
    return c;
  };

  beforeAll(async () => {
    server = await NatsServer.start({ auth: true });
    const env = { CLIENT_TOKEN_HMAC_SECRET: SECRET, PRESENCE_GRACE_MS: "1000" };
    for (const name of [...COMPONENTS, "gateway", "gateway"] as const)
      workers.push(WorkerProcess.spawn(name, { ...env, NATS_URL: server.urlFor(name) }));
    await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/)));
    for (const g of workers.filter((w) => w.name === "gateway")) gateways.set(await g.httpUrl(), g);
    [gwA, gwB, gwC] = [...gateways.keys()] as [string, string, string];
    for (const url of gateways.keys())
      await waitFor(async () => (await fetch(`${url}/health`)).status === 200, { what: "healthy" });
    proxy = await FreezableProxy.start(Number(new URL(gwA).port));
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await proxy?.[Symbol.asyncDispose]();
    await Promise.all(workers.map((w) => w.stop("SIGTERM")));
    await server?.[Symbol.asyncDispose]();
  });

  it.each(["SIGKILL", "SIGTERM"] as const)(
    "keeps members and statuses across a gateway's stop (%s), with no leave, offline or stale member",
    async (signal) => {
      const ada = client(`ada-${signal}`, "ada-laptop");
      const bo = client(`bo-${signal}`, "bo-phone");
      await Promise.all([ada.ready(), bo.ready()]);
      const adaRoom = ada.channel(`team-${signal}`);
      const boRoom = bo.channel(`team-${signal}`);
      await adaRoom.join({ name: "Ada" });
      await boRoom.join({ name: "Bo" });
      await boRoom.subscribe();
      const seen: string[] = [];
      boRoom.on("join", (e) => seen.push(`join ${e.user}`));
      boRoom.on("leave", (e) => seen.push(`leave ${e.user} ${e.reason}`));
      bo.on("status", (e) => seen.push(`status ${e.user} ${e.status}`));
      await bo.watch([`ada-${signal}`]);
      const names = () =>
        [...boRoom.members.values()]
          .map((m) => `${m.user.replace(`-${signal}`, "")}:${(m.data as { name?: string }).name}`)
          .sort()
          .join();
      await waitFor(() => names() === "ada:Ada,bo:Bo", { what: "bo sees both" }).catch(async (e) => {
        throw new Error(
          `${e}: names=${names()} seen=${seen} presence=${JSON.stringify(await boRoom.presence())}`,
        );
      });
      await waitFor(() => bo.statuses.get(`ada-${signal}`)?.status === "online", {
        what: "ada online for bo",
      });
      await adaRoom.update({ name: "Ada L." });
      await waitFor(() => names() === "ada:Ada L.,bo:Bo", { what: "bo sees ada's update" });

      // The gateway stops; the load balancer sends reconnects to the other one.
      const [from, to] = signal === "SIGKILL" ? [gwA, gwB] : [gwB, gwC];
      const gateway = gateways.get(from) as WorkerProcess;
      // Counted from the events: the SDK may reconnect before a poll of `state` sees it down.
      let cutOff = 0;
      ada.on("state", (e) => {
        if (e.prev === "connected") cutOff++;
      });
      proxy.retarget(Number(new URL(to).port));
      await gateway.stop(signal);
      await waitFor(() => cutOff > 0, { what: "ada cut off" });
      await waitFor(() => ada.state === "connected" && bo.state === "connected", {
        what: "both back",
        timeoutMs: 15_000,
      });
      // Resynchronised: the same members, data and statuses, from the other gateway.
      await waitFor(() => names() === "ada:Ada L.,bo:Bo", { what: "bo's view after the resync" });
      await adaRoom.update({ name: "Ada again" });
      await waitFor(() => names() === "ada:Ada again,bo:Bo", { what: "live pushes from the new gateway" });
      const presence = await boRoom.presence();
      expect(presence.map((m) => `${m.user}/${m.conn}`).sort()).toEqual([
        `ada-${signal}/ada-laptop`,
        `bo-${signal}/bo-phone`,
      ]);
      expect(seen.filter((s) => s.startsWith("leave") || s.endsWith("offline"))).toEqual([]);
      expect(bo.statuses.get(`ada-${signal}`)?.status).toBe("online");
      ada.close();
      bo.close();
    },
    40_000,
  );
});
