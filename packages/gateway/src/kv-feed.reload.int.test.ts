/**
 * The gateway's KV view after its watch was behind for long (here: the server stopped with
 * SIGSTOP): it loads the bucket again instead of resuming, so a member whose key vanished
 * meanwhile without a marker it could see (status-projector removes old delete markers) leaves
 * the view, and members that did not change cause no event.
 */
import { buckets, json, loadConfig, type MemberDoc, memberKey } from "@herald/protocol";
import { ensureResources } from "@herald/runtime";
import { NatsServer, waitFor } from "@herald/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { expect, it } from "vitest";
import { KvFeed } from "./kv-feed.js";
import { PresenceView } from "./view.js";

const log = pino({ level: process.env.TEST_LOG ?? "silent" });
const RELOAD_AFTER_MS = 1000;

it("loads a bucket again after its watch was behind too long, removing what vanished unseen", async () => {
  await using server = await NatsServer.start();
  const nc = await connect({ servers: server.url });
  const feeds: KvFeed[] = [];
  try {
    const config = loadConfig({ NATS_URL: server.url });
    const jsm = await jetstreamManager(nc);
    for (const c of ["gateway", "presence-actor", "status-projector"] as const)
      await ensureResources(nc, jsm, config, c, log);
    const kv = await new Kvm(nc).open(buckets.members);
    const doc = (user: string): MemberDoc => ({
      channel: "room",
      user,
      conn: "c",
      data: { name: user },
      joined_at_ms: 1,
      updated_at_ms: 1,
    });
    for (const user of ["stays", "vanishes"])
      await kv.put(memberKey("room", user, "c"), json.encode(doc(user)));

    const view = new PresenceView();
    const events: string[] = [];
    view.listener = {
      member: (before, after) =>
        events.push(`${after === undefined ? "leave" : "put"} ${(after ?? before)?.user}`),
      status: () => undefined,
    };
    const feed = await KvFeed.start(nc, view, log, { checkMs: 100, reloadAfterMs: RELOAD_AFTER_MS });
    feeds.push(feed);
    await feed.whenReady();
    expect(
      view
        .presence("room")
        .map((m) => m.user)
        .sort(),
    ).toEqual(["stays", "vanishes"]);
    events.length = 0;

    // The key goes with no marker left to see, as after a leave whose marker was removed.
    await jsm.streams.purge(`KV_${buckets.members}`, {
      filter: `$KV.${buckets.members}.${memberKey("room", "vanishes", "c")}`,
    });
    expect(
      view
        .presence("room")
        .map((m) => m.user)
        .sort(),
    ).toEqual(["stays", "vanishes"]);

    // The server stops answering for longer than the reload threshold.
    const pid = server.pid as number;
    process.kill(pid, "SIGSTOP");
    try {
      const stoppedAt = Date.now();
      await waitFor(() => Date.now() - stoppedAt > RELOAD_AFTER_MS * 1.5, { what: "the stall" });
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await waitFor(() => view.presence("room").length === 1, { what: "the vanished member removed" });
    expect(view.presence("room").map((m) => m.user)).toEqual(["stays"]);
    // Both watches were cut off: each bucket was loaded again, once.
    expect(feed.stats().reloads).toBe(2);
    // The member that did not change was not put again (no update pushed to subscribers).
    expect(events).toEqual(["leave vanishes"]);

    // After the reload the watch is live again.
    await kv.put(memberKey("room", "new", "c"), json.encode(doc("new")));
    await waitFor(() => view.presence("room").length === 2, { what: "a new member seen" });
    expect(feed.stats().reloads).toBe(2);
  } finally {
    for (const f of feeds) await f.stop();
    await nc.close();
  }
});
