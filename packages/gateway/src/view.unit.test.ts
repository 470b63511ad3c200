import { encodeToken, type MemberDoc, memberKey, type StatusDoc } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { PresenceView } from "./view.js";

const NOW = 1_700_000_123_456;
const NOW_S = Math.floor(NOW / 1000);

function status(doc: Partial<StatusDoc> & { user: string }): StatusDoc {
  return { status: "offline", conns: 0, updated_at_ms: 1, ...doc };
}

function member(channel: string, user: string, conn: string, extra: Partial<MemberDoc> = {}): MemberDoc {
  return { channel, user, conn, data: {}, joined_at_ms: 10, updated_at_ms: 20, ...extra };
}

function withStatus(...docs: StatusDoc[]): PresenceView {
  const view = new PresenceView();
  for (const doc of docs) view.putStatus(encodeToken(doc.user), doc);
  return view;
}

function withMembers(...docs: MemberDoc[]): PresenceView {
  const view = new PresenceView();
  for (const doc of docs) view.putMember(memberKey(doc.channel, doc.user, doc.conn), doc);
  return view;
}

describe("get_user_status", () => {
  it("answers offline for a user without a document", () => {
    expect(new PresenceView().getUserStatus(["nobody"], false, NOW)).toEqual([
      { user: "nobody", status: "offline" },
    ]);
  });

  it("reports online as now while a conn is live, else the stored time", () => {
    const view = withStatus(
      status({ user: "live", status: "online", online: 5, active: 4, conns: 2 }),
      status({ user: "gone", status: "offline", online: 5, active: 4, conns: 0 }),
      status({ user: "idle", status: "away", active: 4, conns: 1 }),
    );
    expect(view.getUserStatus(["live", "gone", "idle"], false, NOW)).toEqual([
      { user: "live", status: "online", online: NOW_S, active: 4 },
      { user: "gone", status: "offline", online: 5, active: 4 },
      { user: "idle", status: "away", online: NOW_S, active: 4 },
    ]);
  });

  it("includes the manual status", () => {
    const manual = { status: "dnd" as const, text: "focus", expires_at_ms: NOW + 1 };
    const view = withStatus(status({ user: "u", status: "online", conns: 1, manual }));
    expect(view.getUserStatus(["u"], false, NOW)).toEqual([
      { user: "u", status: "online", online: NOW_S, manual },
    ]);
  });

  it("shows a hidden user as offline, and the actual status only with include_hidden", () => {
    const manual = { status: "invisible" as const };
    const view = withStatus(
      status({
        user: "ghost",
        status: "offline",
        conns: 1,
        manual,
        hidden: true,
        actual: { status: "away", online: 3, active: 2 },
      }),
    );
    expect(view.getUserStatus(["ghost"], false, NOW)).toEqual([{ user: "ghost", status: "offline" }]);
    expect(view.getUserStatus(["ghost"], true, NOW)).toEqual([
      { user: "ghost", status: "away", online: NOW_S, active: 2, manual },
    ]);
  });

  it("answers in request order, repeats included", () => {
    const view = withStatus(status({ user: "b", status: "online", conns: 1 }));
    expect(view.getUserStatus(["a", "b", "a"], false, NOW).map((s) => [s.user, s.status])).toEqual([
      ["a", "offline"],
      ["b", "online"],
      ["a", "offline"],
    ]);
  });

  it("forgets a deleted document", () => {
    const view = withStatus(status({ user: "a.b c", status: "online", conns: 1 }));
    expect(view.getUserStatus(["a.b c"], false, NOW)[0]?.status).toBe("online");
    view.deleteStatus(encodeToken("a.b c"));
    expect(view.getUserStatus(["a.b c"], false, NOW)[0]?.status).toBe("offline");
  });
});

describe("channel queries", () => {
  const docs = [
    member("room", "bob", "2", { data: { x: 1 } }),
    member("room", "bob", "1"),
    member("room", "alice", "9"),
    member("room", "ghost", "1", { hidden: true }),
    member("lobby", "bob", "1"),
    member("lobby", "ghost", "1", { hidden: true }),
  ];

  it("lists visible members sorted by user then conn", () => {
    expect(withMembers(...docs).presence("room")).toEqual([
      { user: "alice", conn: "9", data: {}, joined_at_ms: 10, updated_at_ms: 20 },
      { user: "bob", conn: "1", data: {}, joined_at_ms: 10, updated_at_ms: 20 },
      { user: "bob", conn: "2", data: { x: 1 }, joined_at_ms: 10, updated_at_ms: 20 },
    ]);
    expect(withMembers(...docs).presence("empty")).toEqual([]);
  });

  it("counts visible clients and users", () => {
    const view = withMembers(...docs);
    expect(view.presenceStats("room")).toEqual({ num_clients: 3, num_users: 2 });
    expect(view.presenceStats("nowhere")).toEqual({ num_clients: 0, num_users: 0 });
  });

  it("lists each visible user of a channel once", () => {
    expect(withMembers(...docs).channelUsers("room")).toEqual(["alice", "bob"]);
  });

  it("lists the channels where the user is visible", () => {
    const view = withMembers(...docs);
    expect(view.userChannels("bob")).toEqual(["lobby", "room"]);
    expect(view.userChannels("ghost")).toEqual([]);
    expect(view.userChannels("nobody")).toEqual([]);
  });

  it("tells whether a user is visibly present", () => {
    const view = withMembers(...docs);
    expect(view.isPresent("room", "alice")).toBe(true);
    expect(view.isPresent("lobby", "alice")).toBe(false);
    expect(view.isPresent("room", "ghost")).toBe(false);
  });

  it("follows replacements and deletes in every index", () => {
    const view = withMembers(...docs);
    const key = memberKey("room", "alice", "9");
    view.putMember(key, member("room", "alice", "9", { data: { v: 2 } }));
    expect(view.presence("room").find((m) => m.user === "alice")?.data).toEqual({ v: 2 });
    view.deleteMember(key);
    expect(view.channelUsers("room")).toEqual(["bob"]);
    expect(view.userChannels("alice")).toEqual([]);
    view.deleteMember(key);
    view.putMember(memberKey("room", "ghost", "1"), member("room", "ghost", "1"));
    expect(view.channelUsers("room")).toEqual(["bob", "ghost"]);
    expect(view.counts.members).toBe(5);
  });
});

describe("totals (the gauges of /metrics)", () => {
  it("follow documents as they are replaced and deleted", () => {
    const view = withStatus(
      status({ user: "a", status: "online", conns: 2 }),
      status({ user: "b", status: "away", conns: 1 }),
      status({ user: "c", status: "offline" }),
    );
    expect(view.totals()).toMatchObject({ online: 1, away: 1, offline: 1, conns: 3 });
    view.putStatus(encodeToken("a"), status({ user: "a", status: "away", conns: 1 }));
    view.deleteStatus(encodeToken("c"));
    view.deleteStatus(encodeToken("nobody"));
    expect(view.totals()).toMatchObject({ online: 0, away: 2, offline: 0, conns: 2 });
    view.putMember(memberKey("room", "a", "1"), member("room", "a", "1"));
    view.putMember(memberKey("room", "b", "1"), member("room", "b", "1"));
    view.putMember(memberKey("hall", "b", "1"), member("hall", "b", "1"));
    expect(view.totals()).toMatchObject({ channels: 2, members: 3 });
    view.deleteMember(memberKey("hall", "b", "1"));
    expect(view.totals()).toMatchObject({ channels: 1, members: 2 });
  });
});
