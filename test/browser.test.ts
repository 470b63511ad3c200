/**
 * The demo page (`/demo`, served by the gateway, using the client SDK's browser bundle) in a
 * real browser: Debian's chromium driven by playwright-core, two users in two browser contexts.
 * Each sees the other join, update and leave; a closed page is a `leave` with reason
 * `disconnect` within a second; a browser whose network is lost (a proxy that stops passing
 * bytes) times out: `leave` with reason `timeout` after the ttl. A screenshot of the page is kept
 * in .test-results/demo.png.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { COMPONENTS } from "@herald/protocol";
import { NatsServer, repoRoot, WorkerProcess, waitFor } from "@herald/testkit";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FreezableProxy } from "./support/freezable-proxy.js";
import { signToken } from "./support/ws-client.js";

const SECRET = "a-browser-test-secret-of-32-bytes!!";
const TTL_MS = 3000;
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("the demo page in a real browser", () => {
  let server: NatsServer;
  const workers: WorkerProcess[] = [];
  let gateway: string;
  let proxy: FreezableProxy;
  let browser: Browser;

  /** A new browser context (its own cookies and storage: another person) on the demo page. */
  const open = async (base: string, user: string, name: string): Promise<Page> => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const token = await signToken(SECRET, user);
    await page.goto(
      `${base}/demo?channel=lobby&name=${encodeURIComponent(name)}&token=${encodeURIComponent(token)}`,
    );
    await page.waitForFunction(
      () => (globalThis as unknown as { demo?: { ready: boolean } }).demo?.ready === true,
    );
    return page;
  };
  const members = (page: Page) =>
    page.evaluate(() =>
      [
        ...(
          globalThis as unknown as { demo: { room: { members: Map<string, { user: string }> } } }
        ).demo.room.members.values(),
      ]
        .map((m) => m.user)
        .sort(),
    );
  const events = (page: Page) =>
    page.evaluate(() => (globalThis as unknown as { demo: { events: string[] } }).demo.events);
  const eventMatching = (page: Page, pattern: RegExp, timeoutMs = 10_000) =>
    waitFor(async () => (await events(page)).find((e) => pattern.test(e)), {
      what: `an event ${pattern}`,
      timeoutMs,
    });

  beforeAll(async () => {
    server = await NatsServer.start({ auth: true });
    const env = {
      CLIENT_TOKEN_HMAC_SECRET: SECRET,
      PRESENCE_TTL_MS: String(TTL_MS),
      PRESENCE_GRACE_MS: "500",
    };
    for (const name of COMPONENTS)
      workers.push(WorkerProcess.spawn(name, { ...env, NATS_URL: server.urlFor(name) }));
    await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/)));
    gateway = await (workers[0] as WorkerProcess).httpUrl();
    await waitFor(async () => (await fetch(`${gateway}/health`)).status === 200, { what: "gateway healthy" });
    proxy = await FreezableProxy.start(Number(new URL(gateway).port));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });

  afterAll(async () => {
    await browser?.close();
    await proxy?.[Symbol.asyncDispose]();
    await Promise.all(workers.map((w) => w.stop("SIGTERM")));
    await server?.[Symbol.asyncDispose]();
  });

  it("two people see each other join, update and leave; a closed page leaves at once; a lost network times out", async () => {
    const alice = await open(gateway, "alice", "Alice");
    // Bob's browser reaches the gateway through a proxy that can lose the network.
    const bob = await open(proxy.url, "bob", "Bob");
    await waitFor(async () => (await members(alice)).join() === "alice,bob", { what: "alice sees bob" });
    await waitFor(async () => (await members(bob)).join() === "alice,bob", { what: "bob sees alice" });
    await eventMatching(alice, /^join bob\//);

    await bob.getByRole("button", { name: "Change my mood" }).click();
    await eventMatching(alice, /^update bob \{"name":"Bob","mood":"\w+"\}/);
    await alice.getByRole("button", { name: "Change my mood" }).click();
    await eventMatching(bob, /^update alice /);
    // Alice's page shows bob's status (watched) and his mood.
    await waitFor(
      async () => /Bob — \w+\s*online/.test((await alice.locator("#members").textContent()) ?? ""),
      {
        what: "bob online with his mood on alice's page",
      },
    );
    mkdirSync(join(repoRoot, ".test-results"), { recursive: true });
    await alice.screenshot({ path: join(repoRoot, ".test-results", "demo.png"), fullPage: true });

    await bob.getByRole("button", { name: "Leave the room" }).click();
    await eventMatching(alice, /^leave bob\/\S+ \(leave\)/);
    await bob.evaluate(() =>
      (globalThis as unknown as { demo: { room: { join(d: object): Promise<void> } } }).demo.room.join({
        name: "Bob",
      }),
    );
    await waitFor(async () => (await events(alice)).filter((e) => /^join bob\//.test(e)).length === 2, {
      what: "bob back",
    });

    // A third person closes the tab: a leave with reason disconnect within a second.
    const carol = await open(gateway, "carol", "Carol");
    await eventMatching(alice, /^join carol\//);
    const closedAt = Date.now();
    await carol.context().close();
    await eventMatching(alice, /^leave carol\/\S+ \(disconnect\)/, 5000);
    expect(Date.now() - closedAt).toBeLessThan(1000);

    // Bob's network goes: nothing closes, the gateway finds him gone and his conn times out.
    const lostAt = Date.now();
    proxy.freeze();
    await eventMatching(alice, /^leave bob\/\S+ \(timeout\)/, 20_000);
    // Two missed pings (a third of the ttl each), then the ttl.
    expect(Date.now() - lostAt).toBeGreaterThanOrEqual(TTL_MS);
    await eventMatching(alice, /^status bob: online → offline/, 10_000);
    expect(await members(alice)).toEqual(["alice"]);
  }, 60_000);
});
