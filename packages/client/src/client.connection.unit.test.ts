import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  advance,
  connected,
  FakeServer,
  flush,
  harness,
  makeToken,
  T0,
  track,
  WS_URL,
} from "../test-support/harness.js";
import { ClientErrorCode, HeraldClientError } from "./errors.js";

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("connecting", () => {
  it("sends connect with the token as its first frame and takes the server's user and conn", async () => {
    const h = harness();
    expect(h.client.state).toBe("disconnected");
    h.client.connect();
    expect(h.client.state).toBe("connecting");
    await flush();
    expect(h.server.sockets).toHaveLength(1);
    expect(h.server.last.url).toBe(WS_URL);
    const first = h.server.last.sent[0];
    expect(first?.method).toBe("connect");
    expect(first?.params).toEqual({ token: await h.getToken.mock.results[0]?.value });
    expect(h.client.state).toBe("connected");
    expect([h.client.user, h.client.conn]).toEqual(["u1", "gen-1"]);
    expect(h.states.map((s) => [s.prev, s.state, s.reason])).toEqual([
      ["disconnected", "connecting", "connect"],
      ["connecting", "connected", undefined],
    ]);
    await expect(h.client.ready()).resolves.toEqual({ user: "u1", conn: "gen-1", ttl_ms: 30_000 });
  });

  it("sends the conn option as the conn id", async () => {
    const h = await connected({ conn: "tab-7" });
    expect(h.server.last.sent[0]?.params.conn).toBe("tab-7");
    expect(h.client.conn).toBe("tab-7");
  });

  it("reconnects after a drop within the backoff delay, with the same conn and the cached token", async () => {
    const h = await connected();
    h.server.last.serverClose(1006);
    expect(h.client.state).toBe("connecting");
    expect(h.states.at(-1)).toMatchObject({ state: "connecting", reason: "transport", code: 1006 });
    await advance(249); // attempt 0: 0.5 · 500
    expect(h.server.sockets).toHaveLength(1);
    await advance(1);
    expect(h.server.sockets).toHaveLength(2);
    expect(h.client.state).toBe("connected");
    expect(h.server.last.sent[0]?.params).toEqual({
      token: h.server.sockets[0]?.sent[0]?.params.token,
      conn: "gen-1",
    });
    expect(h.getToken).toHaveBeenCalledTimes(1);
  });

  it("gives up for good when getToken() returns an empty string", async () => {
    const h = harness({ getToken: async () => "" });
    h.client.connect();
    const ready = track(h.client.ready());
    await flush();
    expect(h.server.sockets).toHaveLength(0);
    expect(h.client.state).toBe("disconnected");
    expect(h.states.at(-1)).toMatchObject({ reason: "unauthorized", code: 401 });
    await advance(60_000);
    expect(h.server.sockets).toHaveLength(0);
    expect(ready.error).toMatchObject({ code: 401 });
    await expect(h.client.activity()).rejects.toMatchObject({ code: 401 });
  });

  it("stops when the WebSocket constructor throws (a bad URL will not get better)", async () => {
    const h = harness({
      WebSocket: class {
        constructor(url: string) {
          throw new SyntaxError(`invalid url ${url}`);
        }
      } as never,
    });
    h.client.connect();
    await flush();
    expect(h.client.state).toBe("disconnected");
    expect(h.errors.map((e) => e.message)).toEqual([`invalid url ${WS_URL}`]);
    await advance(60_000);
    expect(h.states.map((s) => s.state)).toEqual(["connecting", "disconnected"]);
  });

  it("retries after getToken() throws, reporting the error", async () => {
    let calls = 0;
    const h = harness({
      getToken: async () => {
        calls++;
        if (calls === 1) throw new Error("auth backend down");
        return makeToken("u1", Date.now() + 3_600_000);
      },
    });
    h.client.connect();
    await flush();
    expect(h.client.state).toBe("connecting");
    expect(h.errors.map((e) => [e.code, e.message])).toEqual([
      [ClientErrorCode.Token, "getToken() failed: auth backend down"],
    ]);
    expect(h.states.at(-1)?.reason).toBe("connect");
    await advance(250);
    expect(h.client.state).toBe("connected");
  });

  it("stops on a connect answered 403, retries one answered 503", async () => {
    const refused = harness();
    refused.server.handlers.set("connect", () => ({ error: { code: 403, message: "no" } }));
    refused.client.connect();
    await flush();
    expect(refused.client.state).toBe("disconnected");
    expect(refused.states.at(-1)).toMatchObject({ reason: "server", code: 403 });
    await advance(60_000);
    expect(refused.server.sockets).toHaveLength(1);
    await expect(refused.client.activity()).rejects.toMatchObject({ code: 403 });

    const busy = harness({ server: new FakeServer() });
    let n = 0;
    busy.server.handlers.set("connect", (p) =>
      ++n === 1
        ? { error: { code: 503, message: "busy" } }
        : { result: { user: "u1", conn: String(p.conn ?? "g"), ttl_ms: 1 } },
    );
    busy.client.connect();
    await flush();
    expect(busy.client.state).toBe("connecting");
    expect(busy.server.sockets[0]?.closedBy?.code).toBe(1000);
    await advance(250);
    expect(busy.client.state).toBe("connected");
  });
});

describe("reconnect backoff", () => {
  it("waits random · min(max, min · 2^attempt) before each try, and a stable connection resets the attempts", async () => {
    const draws = [0.999, 0.5, 0.999, 0.25, 0.999, 0.999, 0.999, 0.999, 0.1, 0.999];
    const random = vi.fn(() => draws.shift() ?? 0.999);
    const h = await connected({ random });
    h.server.accept = false;
    h.server.last.serverClose(1006);
    // attempt n waits floor(draw · min(20000, 500 · 2^n)); each try fails at once (server.accept).
    const expected = [499, 500, 1998, 1000, 7992, 15_984, 19_980, 19_980];
    for (const delay of expected) {
      const before = h.server.sockets.length;
      await advance(delay - 1);
      expect(h.server.sockets.length).toBe(before);
      await advance(1);
      expect(h.server.sockets.length).toBe(before + 1);
    }
    // Attempt 8 (draw 0.1 of the capped ceiling): the server is back.
    h.server.accept = true;
    await advance(1999);
    expect(h.client.state).toBe("connecting");
    await advance(1);
    expect(h.client.state).toBe("connected");
    // A drop before stableAfterMs (10 s) keeps counting: attempt 9, draw 0.999 of the cap.
    await advance(9_000);
    h.server.last.serverClose(1006);
    await advance(19_979);
    expect(h.client.state).toBe("connecting");
    await advance(1);
    expect(h.client.state).toBe("connected");
    // Stable for 10 s: the next drop starts again at attempt 0 (draw 0.999 · 500).
    await advance(10_000);
    const before = h.server.sockets.length;
    h.server.last.serverClose(1001);
    await advance(498);
    expect(h.server.sockets.length).toBe(before);
    await advance(1);
    expect(h.server.sockets.length).toBe(before + 1);
    expect(h.client.state).toBe("connected");
  });

  it("gives up an attempt whose connect is not answered within requestTimeoutMs", async () => {
    const h = harness();
    h.server.handlers.set("connect", () => undefined);
    h.client.connect();
    await flush();
    await advance(9_999);
    expect(h.server.last.closedBy).toBeUndefined();
    await advance(1);
    expect(h.server.last.closedBy).toEqual({ code: 1000, reason: "connect timeout" });
    expect(h.states.at(-1)).toMatchObject({ state: "connecting" });
    h.server.handlers.delete("connect");
    await advance(250);
    expect(h.client.state).toBe("connected");
    expect(h.states.map((s) => s.state)).toEqual(["connecting", "connected"]);
  });
});

describe("token refresh", () => {
  it("refreshes at 90% of the remaining lifetime with a fresh token, then from the new token's exp", async () => {
    const h = await connected({ tokenLifeMs: 60_000 });
    expect(h.getToken).toHaveBeenCalledTimes(1);
    await advance(53_999);
    expect(h.getToken).toHaveBeenCalledTimes(1);
    await advance(1);
    expect(h.getToken).toHaveBeenCalledTimes(2);
    const refreshes = h.server.last.frames("refresh");
    expect(refreshes.map((f) => f.params.token)).toEqual([await h.getToken.mock.results[1]?.value]);
    // The new token lives 60 s from T0 + 54 s: next refresh 54 s later.
    await advance(53_999);
    expect(h.getToken).toHaveBeenCalledTimes(2);
    await advance(1);
    expect(h.getToken).toHaveBeenCalledTimes(3);
    expect(h.server.last.frames("refresh")).toHaveLength(2);
    expect(h.server.sockets).toHaveLength(1);
    expect(h.errors).toEqual([]);
  });

  it("refreshes a short-lived token 5 s before it expires", async () => {
    const h = await connected({ tokenLifeMs: 8_000 });
    await advance(2_999);
    expect(h.server.last.frames("refresh")).toHaveLength(0);
    await advance(1);
    expect(h.server.last.frames("refresh")).toHaveLength(1);
  });

  it("does not send a token that expires no later than the current one, and retries with backoff", async () => {
    const fixed = makeToken("u1", T0 + 60_000);
    const getToken = vi.fn(async () => fixed);
    const h = await connected({ getToken });
    await advance(54_000);
    expect(getToken).toHaveBeenCalledTimes(2);
    expect(h.server.last.frames("refresh")).toHaveLength(0);
    expect(h.errors.map((e) => e.code)).toEqual([ClientErrorCode.Token]);
    await advance(250); // refresh retry attempt 0: 0.5 · 500
    expect(getToken).toHaveBeenCalledTimes(3);
  });

  it("reports a refresh the server refuses and tries again", async () => {
    const h = await connected({ tokenLifeMs: 60_000 });
    let n = 0;
    h.server.handlers.set("refresh", () =>
      ++n === 1 ? { error: { code: 403, message: "other user" } } : { result: {} },
    );
    await advance(54_000);
    expect(h.errors.map((e) => e.code)).toEqual([403]);
    await advance(250);
    expect(h.server.last.frames("refresh")).toHaveLength(2);
    expect(h.errors).toHaveLength(1);
  });

  it("after a 4401 close gets a fresh token before reconnecting", async () => {
    const h = await connected();
    const firstToken = h.server.last.sent[0]?.params.token;
    h.server.last.serverClose(4401, "token expired");
    expect(h.states.at(-1)).toMatchObject({
      state: "connecting",
      reason: "unauthorized",
      code: 4401,
      message: "token expired",
    });
    await advance(250);
    expect(h.getToken).toHaveBeenCalledTimes(2);
    const second = h.server.last.sent[0];
    expect(second?.method).toBe("connect");
    expect(second?.params.token).toBe(await h.getToken.mock.results[1]?.value);
    expect(second?.params.token).not.toBe(firstToken);
    expect(h.client.state).toBe("connected");
  });

  it("a connect answered 401 also gets a fresh token", async () => {
    const h = harness();
    let n = 0;
    h.server.handlers.set("connect", (p) =>
      ++n === 1
        ? { error: { code: 401, message: "bad token" } }
        : { result: { user: "u1", conn: String(p.conn ?? "g"), ttl_ms: 1 } },
    );
    h.client.connect();
    await flush();
    expect(h.client.state).toBe("connecting");
    expect(h.errors.map((e) => e.code)).toEqual([401]);
    await advance(250);
    expect(h.getToken).toHaveBeenCalledTimes(2);
    expect(h.client.state).toBe("connected");
  });
});

describe("requests", () => {
  it("fail with Timeout after requestTimeoutMs without a reply", async () => {
    const h = await connected();
    h.server.handlers.set("presence", () => undefined);
    const result = track(h.client.channel("room").presence());
    await advance(9_999);
    expect(result.done).toBe(false);
    await advance(1);
    expect(result.error).toBeInstanceOf(HeraldClientError);
    expect(result.error).toMatchObject({ code: ClientErrorCode.Timeout, fromServer: false });
  });

  it("reject with the server's code and message", async () => {
    const h = await connected();
    h.server.handlers.set("join", () => ({ error: { code: 403, message: "channel not in token" } }));
    const ch = h.client.channel("secret");
    await expect(ch.join()).rejects.toMatchObject({
      code: 403,
      message: "join: channel not in token",
      fromServer: true,
    });
    expect(ch.joined).toBe(false);
  });

  it("made while disconnected wait for the connection; one that waited past its timeout fails and is never sent", async () => {
    const h = await connected();
    h.server.accept = false;
    h.server.last.serverClose(1006);
    const early = track(h.client.setStatus("dnd", { text: "focus", expiresAt: new Date(T0 + 3_600_000) }));
    await advance(6_000);
    const late = track(h.client.setStatus("invisible", { expiresAt: T0 + 7_200_000 }));
    await advance(4_000);
    expect(early.error).toMatchObject({ code: ClientErrorCode.Timeout });
    expect(late.done).toBe(false);
    h.server.accept = true;
    await advance(20_000);
    expect(h.client.state).toBe("connected");
    expect(late.done && late.error === undefined).toBe(true);
    expect(h.server.frames("set_status").map((f) => f.params)).toEqual([
      { status: "invisible", expires_at_ms: T0 + 7_200_000 },
    ]);
  });

  it("in flight when the connection drops are sent again after reconnecting", async () => {
    const h = await connected();
    h.server.handlers.set("update", () => undefined);
    const result = track(h.client.channel("room").update({ typing: true }));
    await flush();
    h.server.handlers.delete("update");
    h.server.last.serverClose(1006);
    await advance(250);
    expect(result.done).toBe(true);
    expect(result.error).toBeUndefined();
    expect(h.server.sockets.map((s) => s.frames("update").length)).toEqual([1, 1]);
  });

  it("fail with Closed on close(), which closes the socket with 1000 and stops reconnecting", async () => {
    const h = await connected();
    h.server.handlers.set("presence", () => undefined);
    const inFlight = track(h.client.channel("a").presence());
    await flush();
    h.client.close();
    await flush();
    expect(h.server.last.closedBy).toEqual({ code: 1000, reason: "client" });
    expect(h.client.state).toBe("disconnected");
    expect(h.states.at(-1)).toMatchObject({ reason: "client", code: 1000 });
    expect(inFlight.error).toMatchObject({ code: ClientErrorCode.Closed });
    await expect(h.client.activity()).rejects.toMatchObject({ code: ClientErrorCode.Closed });
    await advance(60_000);
    expect(h.server.sockets).toHaveLength(1);
    // connect() again starts over.
    h.client.connect();
    await flush();
    expect(h.client.state).toBe("connected");
    expect(h.server.last.sent[0]?.params.conn).toBe("gen-1");
  });

  it("chunks get_user_status above 1000 users and keeps the request order", async () => {
    const h = await connected();
    const users = Array.from({ length: 1500 }, (_, i) => `user-${i}`);
    const statuses = await h.client.getUserStatus(users);
    expect(h.server.last.frames("get_user_status").map((f) => (f.params.users as string[]).length)).toEqual([
      1000, 500,
    ]);
    expect(statuses.map((s) => s.user)).toEqual(users);
  });

  it("a frame that is not JSON, or a malformed push, is reported, not fatal", async () => {
    const h = await connected();
    await h.client.channel("big").subscribe();
    h.server.last.deliver("not json");
    h.server.last.deliver({ hello: 1 });
    h.server.last.push({ type: "interval", channel: "big", joined: 7 });
    expect(h.errors.map((e) => [e.code, e.message])).toEqual([
      [ClientErrorCode.Protocol, "a frame that is not a JSON object"],
      [ClientErrorCode.Protocol, "a frame that is neither a reply nor a push"],
      [ClientErrorCode.Protocol, "a malformed interval push"],
    ]);
    expect(h.client.state).toBe("connected");
  });
});
