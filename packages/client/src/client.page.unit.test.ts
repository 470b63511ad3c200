import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { advance, connected, flush, harness, T0 } from "../test-support/harness.js";
import { ClientErrorCode } from "./errors.js";

/** Just enough of a page: `document` and `window` as event targets. */
class FakeDocument extends EventTarget {
  visibilityState: "visible" | "hidden" = "visible";
}
let doc: FakeDocument;
let win: EventTarget;

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  doc = new FakeDocument();
  win = new EventTarget();
  vi.stubGlobal("document", doc);
  vi.stubGlobal("window", win);
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

function pageShow(persisted: boolean): Event {
  const ev = new Event("pageshow");
  Object.defineProperty(ev, "persisted", { value: persisted });
  return ev;
}

describe("activity in a page", () => {
  it("sends one activity per window for pointer and keyboard events (leading edge)", async () => {
    const h = await connected();
    const sent = () => h.server.last.frames("activity").length;
    for (let i = 0; i < 20; i++) {
      doc.dispatchEvent(new Event(i % 2 === 0 ? "pointermove" : "keydown"));
      await advance(200); // 20 events over 4 s
    }
    expect(sent()).toBe(1);
    expect(h.server.last.frames("activity")[0]?.params).toEqual({});
    await advance(999); // 4999 ms after the first
    doc.dispatchEvent(new Event("pointerdown"));
    expect(sent()).toBe(1);
    await advance(1); // the window has passed
    doc.dispatchEvent(new Event("keydown"));
    doc.dispatchEvent(new Event("keydown"));
    await flush();
    expect(sent()).toBe(2);
  });

  it("counts the tab becoming visible, not hidden", async () => {
    const h = await connected();
    doc.visibilityState = "hidden";
    doc.dispatchEvent(new Event("visibilitychange"));
    await flush();
    expect(h.server.last.frames("activity")).toHaveLength(0);
    doc.visibilityState = "visible";
    doc.dispatchEvent(new Event("visibilitychange"));
    await flush();
    expect(h.server.last.frames("activity")).toHaveLength(1);
  });

  it("sends nothing while disconnected, nor with trackActivity false", async () => {
    const off = harness({ trackActivity: false });
    off.client.connect();
    await flush();
    doc.dispatchEvent(new Event("keydown"));
    await flush();
    expect(off.server.last.frames("activity")).toHaveLength(0);

    const h = await connected();
    h.server.accept = false;
    h.server.last.serverClose(1006);
    doc.dispatchEvent(new Event("keydown"));
    h.server.accept = true;
    await advance(250);
    expect(h.client.state).toBe("connected");
    expect(h.server.frames("activity")).toHaveLength(0);
  });

  it("client.activity() always sends and starts a window", async () => {
    const h = await connected();
    await h.client.activity();
    await h.client.activity();
    doc.dispatchEvent(new Event("keydown"));
    await flush();
    expect(h.server.last.frames("activity")).toHaveLength(2);
    await advance(5000);
    doc.dispatchEvent(new Event("keydown"));
    await flush();
    expect(h.server.last.frames("activity")).toHaveLength(3);
  });

  it("stops listening after close()", async () => {
    const h = await connected();
    h.client.close();
    h.client.connect();
    await flush();
    h.client.close();
    doc.dispatchEvent(new Event("keydown"));
    win.dispatchEvent(new Event("pagehide"));
    await flush();
    expect(h.server.frames("activity")).toHaveLength(0);
    expect(h.states.filter((s) => s.reason === "pagehide")).toHaveLength(0);
  });
});

describe("pagehide", () => {
  it("closes the socket with 1000 at once and does not reconnect until the page is shown again", async () => {
    const h = await connected();
    const socket = h.server.last;
    win.dispatchEvent(new Event("pagehide"));
    expect(socket.closedBy).toEqual({ code: 1000, reason: "pagehide" });
    expect(h.client.state).toBe("disconnected");
    expect(h.states.at(-1)).toMatchObject({ state: "disconnected", reason: "pagehide", code: 1000 });
    await advance(120_000);
    expect(h.server.sockets).toHaveLength(1);
    win.dispatchEvent(pageShow(false)); // a fresh load would make a new client: ignored
    await flush();
    expect(h.server.sockets).toHaveLength(1);
    win.dispatchEvent(pageShow(true)); // back from the back/forward cache
    await flush();
    expect(h.client.state).toBe("connected");
    expect(h.server.last.sent[0]?.params.conn).toBe("gen-1");
  });

  it("makes a pending ready() fail with Closed", async () => {
    const h = harness();
    h.client.connect();
    const ready = h.client.ready();
    win.dispatchEvent(new Event("pagehide"));
    await expect(ready).rejects.toMatchObject({
      code: ClientErrorCode.Closed,
      message: "disconnected (pagehide)",
    });
    await advance(60_000);
    expect(h.server.sockets).toHaveLength(0);
  });

  it("is left alone with closeOnPageHide false", async () => {
    const h = await connected({ closeOnPageHide: false });
    win.dispatchEvent(new Event("pagehide"));
    expect(h.server.last.closedBy).toBeUndefined();
    expect(h.client.state).toBe("connected");
  });
});
