/**
 * The operators' dashboard (`GET /dashboard`, README "Dashboard") in a real browser (Debian's
 * chromium via playwright-core), against nats-server with auth and the three workers as
 * processes, the gateway with HTTP_API_KEY: the key prompt guards every data call; then the
 * page's totals, workers, top channels, channel and user views equal the API's answers, the
 * charts draw, the live tail follows its filter, `herald simulate`'s load shows and the totals
 * settle on the API's after it, and the page logs no error. Screenshots are kept
 * in .test-results/dashboard*.png.
 */
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { COMPONENTS, encodeToken, STATUS_BUCKET, type StatusDoc } from "@herald/protocol";
import { NatsServer, repoRoot, WorkerProcess, waitFor } from "@herald/testkit";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const KEY = "a-dashboard-test-key";
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ROOM = "room é.1";
const shots = join(repoRoot, ".test-results");

interface UserStatus {
  user: string;
  status: string;
}

describe("the dashboard in a real browser", () => {
  let server: NatsServer;
  const workers: WorkerProcess[] = [];
  let gateway: string;
  let browser: Browser;
  let reader: NatsConnection;
  const problems: string[] = [];

  const api = async <T = Record<string, unknown>>(method: string, params: object): Promise<T> => {
    const res = await fetch(`${gateway}/api/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": KEY },
      body: JSON.stringify(params),
    });
    const body = (await res.json()) as { result?: T; replies?: T; error?: { message: string } };
    // A batch answers its replies, each a result or an error.
    const result = method === "batch" ? body : body.result;
    const failed = JSON.stringify(body.replies ?? []).includes('"error"') || body.error !== undefined;
    if (result === undefined || failed) throw new Error(`${method}: ${JSON.stringify(body)}`);
    return result as T;
  };
  const users = ["alice", "bob", "carol", "dave", "erin", "frank"];
  const statuses = async () => (await api<{ statuses: UserStatus[] }>("get_user_status", { users })).statuses;
  const attr = async (page: Page, selector: string, name = "data-value") =>
    page.locator(selector).first().getAttribute(name);

  /** A new browser context (its own sessionStorage) on the page, collecting its errors. */
  const open = async (viewport = { width: 1400, height: 1000 }): Promise<Page> => {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    await page.goto(`${gateway}/dashboard`);
    return page;
  };
  const enterKey = async (page: Page, key: string) => {
    await page.getByLabel("Key", { exact: true }).fill(key);
    await page.getByLabel("Key", { exact: true }).press("Enter");
  };

  beforeAll(async () => {
    server = await NatsServer.start({ auth: true });
    const env = { HTTP_API_KEY: KEY, PRESENCE_GRACE_MS: "300" };
    for (const name of COMPONENTS)
      workers.push(WorkerProcess.spawn(name, { ...env, NATS_URL: server.urlFor(name) }));
    await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/)));
    gateway = await (workers[0] as WorkerProcess).httpUrl();
    await waitFor(async () => (await fetch(`${gateway}/health`)).status === 200, { what: "gateway healthy" });
    reader = await connect(server.optionsFor("reader"));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    mkdirSync(shots, { recursive: true });

    // Some load: members with data in two channels (alice on two conns), a manual status, an
    // invisible member (hidden from the channel's counts), an update, a leave, a user gone offline.
    await api("batch", {
      commands: [
        { join: { user: "alice", conn: "a1", channel: "lobby", data: { name: "Alice" } } },
        { join: { user: "alice", conn: "a2", channel: "lobby", data: { name: "Alice", device: "phone" } } },
        { join: { user: "alice", conn: "a1", channel: ROOM } },
        { join: { user: "bob", conn: "b1", channel: "lobby", data: { name: "Bob" } } },
        { join: { user: "carol", conn: "c1", channel: "lobby" } },
        { join: { user: "dave", conn: "d1", channel: ROOM } },
        { join: { user: "frank", conn: "f1", channel: "lobby" } },
        { set_status: { user: "frank", status: "invisible" } },
        { set_status: { user: "bob", status: "dnd", text: "focus" } },
        { heartbeat: { user: "erin", conn: "e1" } },
      ],
    });
    await api("update", { user: "carol", conn: "c1", channel: "lobby", data: { mood: "busy" } });
    await api("leave", { user: "dave", conn: "d1", channel: ROOM });
    await api("disconnect", { user: "erin", conn: "e1" });
    await waitFor(
      async () =>
        (await statuses()).map((s) => s.status).join() === "online,online,online,online,offline,offline" &&
        ((await api<{ num_clients: number }>("presence_stats", { channel: "lobby" })).num_clients === 4 ||
          undefined),
      { what: "the load applied" },
    );
  });

  afterAll(async () => {
    await browser?.close();
    await reader?.close();
    await Promise.all(workers.map((w) => w.stop("SIGTERM")));
    await server?.[Symbol.asyncDispose]();
  });

  it("asks for the key before any data; data endpoints answer 401 without it", async () => {
    for (const path of ["overview", "stream", "channel?channel=lobby", "user?user=alice"]) {
      expect((await fetch(`${gateway}/dashboard/api/${path}`)).status).toBe(401);
      const wrong = await fetch(`${gateway}/dashboard/api/${path}`, { headers: { "x-api-key": "nope" } });
      expect(wrong.status).toBe(401);
    }
    // The page and its files need no key.
    expect((await fetch(`${gateway}/dashboard`)).status).toBe(200);
    expect((await fetch(`${gateway}/dashboard/assets/uPlot.iife.min.js`)).status).toBe(200);

    const page = await open();
    const dataCalls: string[] = [];
    page.on("request", (r) => {
      if (r.url().includes("/dashboard/api/")) dataCalls.push(r.url());
    });
    await page.getByLabel("Key", { exact: true }).waitFor();
    expect(await page.locator("#board").isHidden()).toBe(true);
    await enterKey(page, "not-the-key");
    await page.getByText("That is not this gateway's key").waitFor();
    await page.screenshot({ path: join(shots, "dashboard-key.png") });
    expect(dataCalls).toEqual([]);
    const stored = () =>
      page.evaluate(
        () => (globalThis as unknown as { sessionStorage: { length: number } }).sessionStorage.length,
      );
    expect(await stored()).toBe(0);

    // From a cold start (no page was open), the numbers show within a second.
    const keyed = Date.now();
    await enterKey(page, KEY);
    await page.locator("#board").waitFor({ state: "visible" });
    await waitFor(async () => (await attr(page, "#total-online")) === "4", { what: "the totals" });
    expect(Date.now() - keyed).toBeLessThan(1000);
    expect(dataCalls.length).toBeGreaterThan(0);
    // The key is kept for this tab only: a reload needs no prompt, a new context does.
    await page.reload();
    await page.locator("#board").waitFor({ state: "visible" });
    await page.context().close();
    const other = await open();
    await other.getByLabel("Key", { exact: true }).waitFor();
    await other.context().close();
  });

  it("shows the API's numbers: totals, workers, top channels; the charts draw", async () => {
    const page = await open();
    await enterKey(page, KEY);
    const info = async () =>
      (
        (await (
          await fetch(`${gateway}/centrifugo/api/info`, {
            method: "POST",
            headers: { "x-api-key": KEY },
            body: "{}",
          })
        ).json()) as { result: { nodes: { num_clients: number; num_users: number; num_channels: number }[] } }
      ).result.nodes[0];
    await waitFor(
      async () => {
        const s = await statuses();
        const n = await info();
        const count = (status: string) => String(s.filter((x) => x.status === status).length);
        return (
          (await attr(page, "#total-online")) === count("online") &&
          (await attr(page, "#total-away")) === count("away") &&
          (await attr(page, "#total-offline")) === count("offline") &&
          (await attr(page, "#total-conns")) === String(n?.num_clients) &&
          (await attr(page, "#total-channels")) === String(n?.num_channels) &&
          Number(await attr(page, "#total-online")) + Number(await attr(page, "#total-away")) === n?.num_users
        );
      },
      { what: "the totals equal get_user_status and info" },
    );
    expect(await attr(page, "#total-online")).toBe("4");
    expect(await attr(page, "#total-offline")).toBe("2");

    // Top channels: as presence_stats counts them (frank is invisible).
    for (const channel of ["lobby", ROOM]) {
      const stats = await api<{ num_clients: number; num_users: number }>("presence_stats", { channel });
      const row = page.locator(`#channels tbody tr[data-channel="${channel}"]`);
      await waitFor(
        async () =>
          (await row.locator("td").nth(1).getAttribute("data-value")) === String(stats.num_clients) &&
          (await row.locator("td").nth(2).getAttribute("data-value")) === String(stats.num_users),
        { what: `the top channel ${channel}` },
      );
    }
    expect(await page.locator("#channels tbody tr").first().getAttribute("data-channel")).toBe("lobby");

    // Workers: one row per process, each healthy, every partition owned.
    await waitFor(async () => (await page.locator("#workers tbody tr").count()) === 3, {
      what: "three workers",
    });
    for (const w of workers) {
      const row = page.locator(`#workers tbody tr[data-pid="${w.pid}"]`);
      expect(await row.getAttribute("data-component")).toBe(w.name);
      expect(await row.getAttribute("data-health")).toBe("ok");
    }
    await page.getByText(/each owned by a presence-actor/).waitFor();
    await waitFor(async () => (await attr(page, "#dead-letters")) === "0", { what: "dead letters read" });

    // Charts: a canvas of non-zero size each, with points.
    await waitFor(async () => Number(await attr(page, "#board", "data-ticks")) >= 3, { what: "three ticks" });
    for (const id of ["chart-commands", "chart-events", "chart-latency"]) {
      const box = await page.locator(`#${id} canvas`).boundingBox();
      expect(box?.width ?? 0).toBeGreaterThan(100);
      expect(box?.height ?? 0).toBeGreaterThan(50);
    }
    await waitFor(async () => /events\/s \d/.test((await attr(page, "#chart-events", "aria-label")) ?? ""), {
      what: "a rate on the events chart",
    });
    await page.screenshot({ path: join(shots, "dashboard.png"), fullPage: true });
    await page.context().close();
  });

  it("a user's view equals its status, conns, channels and history; a channel's its members", async () => {
    const page = await open();
    await enterKey(page, KEY);
    await page.locator("#board").waitFor({ state: "visible" });
    // By keyboard: on a fresh load (the key kept by the tab), the first Tab reaches the skip
    // link; then the look-up form.
    await page.reload();
    await page.locator("#board").waitFor({ state: "visible" });
    await page.keyboard.press("Tab");
    expect(await page.locator(":focus").getAttribute("href")).toBe("#main");
    await page.getByLabel("Look up a").selectOption("user");
    await page.locator("#lookup-id").fill("alice");
    await page.locator("#lookup-id").press("Enter");
    await page.locator('#detail[data-loaded="user:alice"]').waitFor();

    const [status] = await statuses();
    expect(await attr(page, "#user-status")).toBe(status?.status);
    const doc = (
      await (await new Kvm(reader).open(STATUS_BUCKET)).get(encodeToken("alice"))
    )?.json<StatusDoc>();
    expect(await attr(page, "#user-conns")).toBe(String(doc?.conns));
    expect(doc?.conns).toBe(2);
    const { channels } = await api<{ channels: string[] }>("user_channels", { user: "alice" });
    expect(await attr(page, "#user-channels")).toBe(channels.join("\n"));
    const { events } = await api<{ events: { at_ms: number; status: string; prev: string }[] }>("history", {
      user: "alice",
    });
    expect(events.length).toBeGreaterThan(0);
    const rows = page.locator("#user-history tbody tr");
    const shown = [];
    for (let i = 0; i < (await rows.count()); i++) {
      const r = rows.nth(i);
      shown.push({
        at_ms: Number(await r.getAttribute("data-at")),
        status: await r.getAttribute("data-status"),
        prev: await r.getAttribute("data-prev"),
      });
    }
    expect(shown).toEqual(events.map((e) => ({ at_ms: e.at_ms, status: e.status, prev: e.prev })).reverse());
    expect(await page.locator(".timeline > span").count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(shots, "dashboard-user.png"), fullPage: true });

    // bob's manual status shows; invisible frank is offline as others see him.
    await page.goto(`${gateway}/dashboard#user=bob`);
    await page.locator('#detail[data-loaded="user:bob"]').waitFor();
    await page.getByText("manual: dnd").waitFor();
    await page.goto(`${gateway}/dashboard#user=frank`);
    await page.locator('#detail[data-loaded="user:frank"]').waitFor();
    expect(await attr(page, "#user-status")).toBe("offline");
    await page.getByText("(invisible to others)").waitFor();

    // A channel: from a link in the top channels, its members as `presence` answers.
    await page.locator(`#channels a[data-channel="${ROOM}"]`).click();
    await page.locator(`#detail[data-loaded="channel:${ROOM}"]`).waitFor();
    await page.goto(`${gateway}/dashboard#channel=lobby`);
    await page.locator('#detail[data-loaded="channel:lobby"]').waitFor();
    const { members } = await api<{ members: { user: string; conn: string }[] }>("presence", {
      channel: "lobby",
    });
    const memberRows = page.locator("#channel-members tbody tr");
    const listed = [];
    for (let i = 0; i < (await memberRows.count()); i++) {
      const r = memberRows.nth(i);
      listed.push({ user: await r.getAttribute("data-user"), conn: await r.getAttribute("data-conn") });
    }
    expect(listed).toEqual(members.map((m) => ({ user: m.user, conn: m.conn })));
    expect(await attr(page, "#channel-clients")).toBe(String(members.length));
    expect(await page.locator('#detail .events li[data-type="update"][data-user="carol"]').count()).toBe(1);
    await page.screenshot({ path: join(shots, "dashboard-channel.png"), fullPage: true });
    await page.context().close();
  });

  it("tails live events through its filter; usable on a phone", async () => {
    const page = await open({ width: 390, height: 844 });
    await enterKey(page, KEY);
    await page.locator("#board").waitFor({ state: "visible" });
    await page.getByLabel("User").fill("bob");
    await page.getByLabel("Type").selectOption("update");
    await page.getByRole("button", { name: "Filter" }).click();
    // Events until one reaches the page (the stream reopens with the filter first).
    await waitFor(
      async () => {
        await api("update", { user: "carol", conn: "c1", channel: "lobby", data: { mood: "tea" } });
        await api("update", {
          user: "bob",
          conn: "b1",
          channel: "lobby",
          data: { name: "Bob", n: Date.now() },
        });
        return (await page.locator("#tail li").count()) > 0;
      },
      { what: "bob's update in the tail", intervalMs: 200 },
    );
    const types = await page
      .locator("#tail li")
      .evaluateAll((lis) =>
        lis.map(
          (li) =>
            `${(li as unknown as { dataset: Record<string, string> }).dataset.type}:${(li as unknown as { dataset: Record<string, string> }).dataset.user}`,
        ),
      );
    expect(new Set(types)).toEqual(new Set(["update:bob"]));
    // The page fits the phone's width (no sideways scrolling of the page itself).
    const width = await page.evaluate(
      () =>
        (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document
          .documentElement.scrollWidth,
    );
    expect(width).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(shots, "dashboard-phone.png"), fullPage: true });
    await page.context().close();

    expect(problems).toEqual([]);
    expect(server.permissionViolations()).toEqual([]);
  });

  it("fed by `herald simulate`, it shows the load, and its totals settle on the API's", async () => {
    const page = await open();
    await enterKey(page, KEY);
    await waitFor(
      async () => (await attr(page, "#total-conns")) !== null && (await attr(page, "#total-conns")) !== "",
      {
        what: "the totals shown",
      },
    );
    const before = Number(await attr(page, "#total-conns"));
    // The command line's load, as a person would run it, as the `client` user.
    const sim = spawn(
      process.execPath,
      [
        join(repoRoot, "packages", "cli", "dist", "main.js"),
        "simulate",
        "--users",
        "40",
        "--channels",
        "4",
        "--rate",
        "40",
        "--duration",
        "6s",
        "--prefix",
        "dash-sim",
        "--seed",
        "7",
        "--server",
        server.urlFor("client"),
        "--credentials",
        "",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    sim.stdout?.on("data", (c: Buffer) => (out += c));
    sim.stderr?.on("data", (c: Buffer) => (out += c));
    const exited = new Promise<number | null>((resolve) => sim.once("exit", (code) => resolve(code)));
    const nodes = async () =>
      (
        (await (
          await fetch(`${gateway}/centrifugo/api/info`, {
            method: "POST",
            headers: { "x-api-key": KEY },
            body: "{}",
          })
        ).json()) as { result: { nodes: { num_clients: number; num_users: number }[] } }
      ).result.nodes[0];
    // While it runs the page shows the load; once it has stopped (its conns disconnected), the
    // page's figures settle on the API's.
    await waitFor(async () => Number(await attr(page, "#total-conns")) > before + 10, {
      what: "the simulation's conns on the page",
      timeoutMs: 15_000,
    });
    expect(await exited, out).toBe(0);
    await waitFor(
      async () => {
        const n = await nodes();
        const conns = Number(await attr(page, "#total-conns"));
        const users = Number(await attr(page, "#total-online")) + Number(await attr(page, "#total-away"));
        return conns === n?.num_clients && users === n?.num_users;
      },
      { what: "the page's totals equal info after the simulation", timeoutMs: 15_000 },
    );
  }, 40_000);

  it("shows a worker that stops answering, and the partitions nobody owns, at a glance", async () => {
    const page = await open();
    await enterKey(page, KEY);
    await page.getByText(/each owned by a presence-actor/).waitFor();
    const actor = workers[1] as WorkerProcess;
    await actor.stop("SIGKILL");
    await page.locator(`#workers tbody tr[data-pid="${actor.pid}"][data-health="bad"]`).waitFor();
    await page.getByText(/Partitions no presence-actor owns: 0–15 of 16/).waitFor();
    await page.screenshot({ path: join(shots, "dashboard-stuck.png"), fullPage: true });
    expect(problems).toEqual([]);
    // A gateway with a page open stops cleanly and at once (its streams are ended first).
    const stopped = await (workers[0] as WorkerProcess).stop("SIGTERM");
    expect(stopped).toMatchObject({ code: 0 });
    expect(stopped.ms).toBeLessThan(3000);
    await page.context().close();
  });
});
