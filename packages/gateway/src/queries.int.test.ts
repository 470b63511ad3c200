import {
  buckets,
  encodeToken,
  json,
  type MemberDoc,
  memberKey,
  type StatusDoc,
  type UserStatus,
} from "@herald/protocol";
import { waitFor } from "@herald/testkit";
import { type KV, Kvm } from "@nats-io/kv";
import { describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./harness.test.js";

const ODD_IDS = ["a.b c", "*", ">", "é", "😀 user", "=3A", "42"];

function statusDoc(user: string, doc: Partial<StatusDoc> = {}): StatusDoc {
  return { user, status: "online", online: 1_000, active: 900, conns: 1, updated_at_ms: 5, ...doc };
}

function memberDoc(channel: string, user: string, conn: string, doc: Partial<MemberDoc> = {}): MemberDoc {
  return { channel, user, conn, data: {}, joined_at_ms: 10, updated_at_ms: 20, ...doc };
}

async function kvs(h: Harness): Promise<{ status: KV; members: KV }> {
  const kvm = new Kvm(h.nc);
  return { status: await kvm.open(buckets.status), members: await kvm.open(buckets.members) };
}

async function putStatus(kv: KV, doc: StatusDoc): Promise<void> {
  await kv.put(encodeToken(doc.user), json.encode(doc));
}

async function putMember(kv: KV, doc: MemberDoc): Promise<void> {
  await kv.put(memberKey(doc.channel, doc.user, doc.conn), json.encode(doc));
}

async function statuses(h: Harness, users: string[], include_hidden?: boolean): Promise<UserStatus[]> {
  const params = include_hidden === undefined ? { users } : { users, include_hidden };
  return (await h.result<{ statuses: UserStatus[] }>("get_user_status", params)).statuses;
}

describe("gateway queries from the KV view", () => {
  it("answers only once the buckets are loaded, then for 1000 users in request order", async () => {
    await using h = await startHarness({ gateways: 0 });
    const { status, members } = await kvs(h);
    const users = Array.from({ length: 1000 }, (_, i) => `user-${(i * 7919) % 1000}`);
    await Promise.all(users.map((u, i) => putStatus(status, statusDoc(u, { conns: 0, online: i }))));
    await Promise.all(users.slice(0, 300).map((u) => putMember(members, memberDoc("big", u, "c"))));
    await h.addGateway();
    const first = await waitFor(
      async () => {
        const r = await h.call("get_user_status", { users });
        return r.body.error?.code === 503 ? undefined : r.body;
      },
      { what: "a loaded view" },
    );
    const answered = (first.result as { statuses: UserStatus[] }).statuses;
    expect(answered.map((s) => s.user)).toEqual(users);
    expect(answered.map((s) => s.online)).toEqual(users.map((_, i) => i));
    expect(await h.result("presence_stats", { channel: "big" })).toEqual({
      num_clients: 300,
      num_users: 300,
    });
  });

  it("reports statuses: online now while connected, stored times, manual, hidden users and unknown ones", async () => {
    await using h = await startHarness();
    await h.viewLoaded();
    const { status } = await kvs(h);
    const manual = { status: "dnd" as const, text: "deep work", emoji: "🎧" };
    await putStatus(status, statusDoc("live", { manual }));
    await putStatus(status, statusDoc("gone", { status: "offline", conns: 0, online: 1234, active: 1200 }));
    await putStatus(status, statusDoc("idle", { status: "away", conns: 2, online: 1, active: 50 }));
    await putStatus(
      status,
      statusDoc("ghost", {
        status: "offline",
        online: undefined,
        active: undefined,
        conns: 1,
        manual: { status: "invisible" },
        hidden: true,
        actual: { status: "online", online: 7, active: 6 },
      }),
    );
    const users = ["live", "gone", "nobody", "idle", "ghost", "live"];
    await waitFor(
      async () =>
        (await statuses(h, ["ghost"]))[0]?.status === "offline" &&
        (await statuses(h, ["ghost"], true))[0]?.status === "online",
    );
    const before = Math.floor(Date.now() / 1000);
    const plain = await statuses(h, users);
    const hidden = await statuses(h, users, true);
    const after = Math.floor(Date.now() / 1000);
    const nowish = expect.toSatisfy((t: number) => t >= before && t <= after);
    expect(plain).toEqual([
      { user: "live", status: "online", online: nowish, active: 900, manual },
      { user: "gone", status: "offline", online: 1234, active: 1200 },
      { user: "nobody", status: "offline" },
      { user: "idle", status: "away", online: nowish, active: 50 },
      { user: "ghost", status: "offline" },
      { user: "live", status: "online", online: nowish, active: 900, manual },
    ]);
    expect(hidden[4]).toEqual({
      user: "ghost",
      status: "online",
      online: nowish,
      active: 6,
      manual: { status: "invisible" },
    });
    expect(hidden.filter((_, i) => i !== 4)).toEqual(plain.filter((_, i) => i !== 4));
  });

  it("answers channel queries over visible members, odd ids included", async () => {
    await using h = await startHarness();
    await h.viewLoaded();
    const { members } = await kvs(h);
    const docs: MemberDoc[] = [];
    for (const [i, id] of ODD_IDS.entries()) {
      docs.push(memberDoc(id, id, id, { data: { i } }));
      docs.push(memberDoc("room", id, `tab ${i}`, { joined_at_ms: i }));
    }
    docs.push(memberDoc("room", "a.b c", "tab 99"));
    docs.push(memberDoc("room", "hidden one", "c", { hidden: true }));
    docs.push(memberDoc("a.b c", "hidden one", "c", { hidden: true }));
    await Promise.all(docs.map((d) => putMember(members, d)));
    await waitFor(
      async () =>
        (await h.result<{ users: string[] }>("channel_users", { channel: "room" })).users.length ===
        ODD_IDS.length,
    );

    const sorted = [...ODD_IDS].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(await h.result("channel_users", { channel: "room" })).toEqual({ users: sorted });
    const { members: listed } = await h.result<{ members: { user: string; conn: string }[] }>("presence", {
      channel: "room",
    });
    expect(listed.map((m) => m.user)).toEqual([...sorted.flatMap((u) => (u === "a.b c" ? [u, u] : [u]))]);
    expect(listed.find((m) => m.user === "*")).toEqual({
      user: "*",
      conn: `tab ${ODD_IDS.indexOf("*")}`,
      data: {},
      joined_at_ms: ODD_IDS.indexOf("*"),
      updated_at_ms: 20,
    });
    expect(await h.result("presence_stats", { channel: "room" })).toEqual({
      num_clients: ODD_IDS.length + 1,
      num_users: ODD_IDS.length,
    });
    for (const id of ODD_IDS) {
      expect(await h.result("presence", { channel: id })).toEqual({
        members: [
          { user: id, conn: id, data: { i: ODD_IDS.indexOf(id) }, joined_at_ms: 10, updated_at_ms: 20 },
        ],
      });
      expect(await h.result("user_channels", { user: id })).toEqual({
        channels: [id, "room"].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      });
      expect(await h.result("is_present", { channel: id, user: id })).toEqual({ present: true });
    }
    expect(await h.result("user_channels", { user: "hidden one" })).toEqual({ channels: [] });
    expect(await h.result("is_present", { channel: "room", user: "hidden one" })).toEqual({ present: false });
    expect(await h.result("is_present", { channel: "*", user: ">" })).toEqual({ present: false });
    expect(await h.result("presence_stats", { channel: "a.b c" })).toEqual({ num_clients: 1, num_users: 1 });
  });

  it("follows KV updates and deletes", async () => {
    await using h = await startHarness();
    await h.viewLoaded();
    const { status, members } = await kvs(h);
    await putStatus(status, statusDoc("u", { status: "away", conns: 0, online: 5 }));
    await waitFor(async () => (await statuses(h, ["u"]))[0]?.status === "away");
    await putStatus(status, statusDoc("u", { status: "offline", conns: 0, online: 6 }));
    await waitFor(async () => (await statuses(h, ["u"]))[0]?.online === 6);
    await status.delete(encodeToken("u"));
    await waitFor(async () => (await statuses(h, ["u"]))[0]?.online === undefined);
    expect(await statuses(h, ["u"])).toEqual([{ user: "u", status: "offline" }]);

    const doc = memberDoc("r", "u", "c", { data: { v: 1 } });
    await putMember(members, doc);
    await waitFor(
      async () => (await h.result<{ present: boolean }>("is_present", { channel: "r", user: "u" })).present,
    );
    await putMember(members, { ...doc, data: { v: 2 }, updated_at_ms: 30 });
    await waitFor(async () => {
      const { members: m } = await h.result<{ members: MemberDoc[] }>("presence", { channel: "r" });
      return m[0]?.updated_at_ms === 30 && m;
    });
    await members.delete(memberKey("r", "u", "c"));
    await waitFor(
      async () => !(await h.result<{ present: boolean }>("is_present", { channel: "r", user: "u" })).present,
    );
    await putMember(members, doc);
    await waitFor(
      async () => (await h.result<{ users: string[] }>("channel_users", { channel: "r" })).users.length === 1,
    );
    await members.purge(memberKey("r", "u", "c"));
    await waitFor(
      async () => (await h.result<{ users: string[] }>("channel_users", { channel: "r" })).users.length === 0,
    );
  });

  it("leaves invalid KV values out of the view and counts them", async () => {
    await using h = await startHarness();
    await h.viewLoaded();
    const { status } = await kvs(h);
    await putStatus(status, statusDoc("u"));
    await waitFor(async () => (await statuses(h, ["u"]))[0]?.status === "online");
    await status.put(encodeToken("u"), new TextEncoder().encode("{oops"));
    await status.put(encodeToken("v"), json.encode({ user: "v", status: "sleeping" }));
    await waitFor(async () => (await statuses(h, ["u"]))[0]?.status === "offline");
    const data = await waitFor(async () => {
      const d = (await h.stats())[0]?.endpoints?.[0]?.data as
        | { view: { invalid_values: number } }
        | undefined;
      return d?.view.invalid_values === 2 && d;
    });
    expect(data.view).toMatchObject({ ready: true, invalid_values: 2 });
    expect(await statuses(h, ["v"])).toEqual([{ user: "v", status: "offline" }]);
  });
});

describe("replies too large for one message", () => {
  it("answers 413 saying how to ask for less, instead of leaving the caller without a reply", async () => {
    await using h = await startHarness();
    await h.viewLoaded();
    const { members } = await kvs(h);
    const data = { blob: "x".repeat(4000) };
    // 300 members with 4 KB of data each: about 1.2 MB of presence, over the 1 MiB a reply carries.
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        putMember(members, memberDoc("big room", `u${i}`, "c", { data })),
      ),
    );
    await waitFor(
      async () =>
        (await h.result<{ num_clients: number }>("presence_stats", { channel: "big room" })).num_clients ===
        300,
      { what: "300 members in the view" },
    );
    const { body } = await h.call("presence", { channel: "big room" });
    expect(body.error?.code).toBe(413);
    expect(body.error?.message).toMatch(/presence_stats or channel_users/);
    expect(
      (await h.result<{ users: string[] }>("channel_users", { channel: "big room" })).users,
    ).toHaveLength(300);
  });
});
