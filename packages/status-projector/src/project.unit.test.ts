import {
  buckets,
  encodeFact,
  encodeToken,
  type Fact,
  internalSubjects,
  json,
  type MemberDoc,
  type MemberFact,
  memberKey,
  msgpack,
  type StatusDoc,
  type UserFact,
} from "@herald/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  factProblem,
  type KvWrite,
  parseFactSeq,
  project,
  readFact,
  type SequencedFact,
  supersedes,
  targetOf,
} from "./project.js";

const statusDoc = (user: string, over: Partial<StatusDoc> = {}): StatusDoc => ({
  user,
  status: "online",
  conns: 1,
  updated_at_ms: 1_700_000_000_000,
  ...over,
});
const userFact = (user: string, doc: StatusDoc | null = statusDoc(user)): UserFact => ({
  type: "user",
  user,
  doc,
});
const memberDoc = (
  channel: string,
  user: string,
  conn: string,
  over: Partial<MemberDoc> = {},
): MemberDoc => ({
  channel,
  user,
  conn,
  data: {},
  joined_at_ms: 1_700_000_000_000,
  updated_at_ms: 1_700_000_000_000,
  ...over,
});
const memberFact = (
  channel: string,
  user: string,
  conn: string,
  doc: MemberDoc | null = memberDoc(channel, user, conn),
): MemberFact => ({ type: "member", channel, user, conn, doc });

const at = (seq: number, fact: Fact): SequencedFact => ({ seq, fact });

/** The document a write stores, or null for a delete. */
const docOf = (w: KvWrite): unknown => (w.op === "put" ? json.decode(w.value) : null);

describe("project", () => {
  it("puts a user's status document under token(user) in presence_status", () => {
    const doc = statusDoc("42", { status: "away", active: 1_700_000_000, conns: 2 });
    const [w, ...rest] = project([at(7, userFact("42", doc))]);
    expect(rest).toEqual([]);
    expect(w).toMatchObject({ op: "put", bucket: buckets.status, key: "42", seq: 7 });
    expect(w && docOf(w)).toEqual(doc);
  });

  it("deletes the user's key for doc: null", () => {
    expect(project([at(3, userFact("42", null))])).toEqual([
      { op: "del", bucket: buckets.status, key: "42", seq: 3 },
    ]);
  });

  it("puts a member document under token(channel).token(user).token(conn) in presence_members", () => {
    const doc = memberDoc("room 1", "u", "tab", { data: { role: "host" }, hidden: true });
    const [w] = project([at(9, memberFact("room 1", "u", "tab", doc))]);
    expect(w).toMatchObject({ op: "put", bucket: buckets.members, key: "room=201.u.tab", seq: 9 });
    expect(w && docOf(w)).toEqual(doc);
  });

  it("deletes the member's key for doc: null", () => {
    expect(project([at(4, memberFact("c", "u", "k", null))])).toEqual([
      { op: "del", bucket: buckets.members, key: "c.u.k", seq: 4 },
    ]);
  });

  it("token-encodes odd ids into the keys", () => {
    const user = "a.b *>é";
    const [u, m] = project([at(1, userFact(user)), at(2, memberFact("x.y", user, "c>"))]);
    expect(u?.key).toBe("a=2Eb=20=2A=3E=C3=A9");
    expect(u?.key).toBe(encodeToken(user));
    expect(m?.key).toBe(`x=2Ey.${encodeToken(user)}.c=3E`);
    expect(m?.key).toBe(memberKey("x.y", user, "c>"));
  });

  it("keeps only the last fact of a key in a batch", () => {
    const writes = project([
      at(10, userFact("u", statusDoc("u", { conns: 1 }))),
      at(11, memberFact("c", "u", "k")),
      at(12, userFact("u", null)),
      at(13, userFact("u", statusDoc("u", { conns: 3 }))),
      at(14, memberFact("c", "u", "k", null)),
    ]);
    expect(writes.map((w) => [w.bucket, w.key, w.op, w.seq])).toEqual([
      [buckets.status, "u", "put", 13],
      [buckets.members, "c.u.k", "del", 14],
    ]);
    expect(writes[0] && docOf(writes[0])).toMatchObject({ conns: 3 });
  });

  it("lets the highest sequence win even when a redelivered fact arrives late in the batch", () => {
    const writes = project([
      at(20, userFact("u", statusDoc("u", { conns: 2 }))),
      at(5, userFact("u", statusDoc("u", { conns: 1 }))),
    ]);
    expect(writes).toHaveLength(1);
    expect(writes[0]?.seq).toBe(20);
    expect(writes[0] && docOf(writes[0])).toMatchObject({ conns: 2 });
  });

  it("orders writes by sequence", () => {
    const writes = project([at(30, userFact("b")), at(31, memberFact("a", "a", "a")), at(29, userFact("z"))]);
    expect(writes.map((w) => w.seq)).toEqual([29, 30, 31]);
  });

  it("makes nothing of an empty batch", () => {
    expect(project([])).toEqual([]);
  });

  it("matches a reference model: one write per key, from its highest-sequence fact", () => {
    const ids = fc.constantFrom("u1", "u2", "a.b", "é");
    const fact = fc.oneof(
      fc.tuple(ids, fc.boolean()).map(([u, del]) => userFact(u, del ? null : statusDoc(u))),
      fc
        .tuple(ids, ids, ids, fc.boolean())
        .map(([c, u, k, del]) => memberFact(c, u, k, del ? null : memberDoc(c, u, k))),
    );
    const batch = fc
      .uniqueArray(fc.integer({ min: 1, max: 10_000 }), { maxLength: 60 })
      .chain((seqs) =>
        fc.tuple(fc.constant(seqs), fc.array(fact, { minLength: seqs.length, maxLength: seqs.length })),
      )
      .map(([seqs, facts]) => seqs.map((seq, i) => at(seq, facts[i] as Fact)));
    fc.assert(
      fc.property(batch, (items) => {
        const model = new Map<string, SequencedFact>();
        for (const item of items) {
          const t = targetOf(item.fact);
          const id = `${t.bucket}/${t.key}`;
          const seen = model.get(id);
          if (seen === undefined || seen.seq < item.seq) model.set(id, item);
        }
        const writes = project(items);
        expect(writes).toHaveLength(model.size);
        for (const w of writes) {
          const want = model.get(`${w.bucket}/${w.key}`);
          expect(want?.seq).toBe(w.seq);
          expect(docOf(w)).toEqual(want?.fact.doc);
        }
        expect(writes.map((w) => w.seq)).toEqual([...writes.map((w) => w.seq)].sort((a, b) => a - b));
      }),
    );
  });
});

describe("factProblem", () => {
  it("accepts facts whose document describes their key, and removals", () => {
    expect(factProblem(userFact("u"))).toBeUndefined();
    expect(factProblem(userFact("u", null))).toBeUndefined();
    expect(factProblem(memberFact("c", "u", "k"))).toBeUndefined();
    expect(factProblem(memberFact("c", "u", "k", null))).toBeUndefined();
  });

  it("names the field of a document stored under another key", () => {
    expect(factProblem(userFact("u", statusDoc("v")))).toMatch(/doc\.user/);
    expect(factProblem(memberFact("c", "u", "k", memberDoc("c", "v", "k")))).toMatch(/doc\.user/);
    expect(factProblem(memberFact("c", "u", "k", memberDoc("d", "u", "k")))).toMatch(/doc\.channel/);
    expect(factProblem(memberFact("c", "u", "k", memberDoc("c", "u", "j")))).toMatch(/doc\.conn/);
  });
});

describe("readFact", () => {
  it("skips a nudge: nothing to project, nothing invalid", () => {
    expect(readFact(3, new Uint8Array(0), internalSubjects.factNudge)).toEqual({ ok: true, fact: undefined });
    expect(readFact(3, new Uint8Array(0), "herald.fact.user.x").ok).toBe(false);
  });
  it("decodes a usable fact with its sequence", () => {
    const fact = memberFact("c", "u", "k");
    expect(readFact(5, encodeFact(fact))).toEqual({ ok: true, fact: { seq: 5, fact } });
  });

  it("gives the reason for bytes that are no fact, a schema miss and a document of another key", () => {
    const reasons = [
      new Uint8Array([0xc1, 0xff]),
      msgpack.encode({ type: "user", user: "u" }),
      encodeFact(userFact("u", statusDoc("v"))),
    ].map((data) => readFact(1, data));
    expect(reasons.map((r) => r.ok)).toEqual([false, false, false]);
    expect(reasons.map((r) => (r.ok ? "" : r.reason))).toEqual([
      expect.stringMatching(/msgpack/),
      expect.stringMatching(/doc/),
      "fact.doc.user differs from fact.user",
    ]);
  });
});

describe("parseFactSeq", () => {
  it("reads a positive decimal sequence", () => {
    expect(parseFactSeq("1")).toBe(1);
    expect(parseFactSeq("123456789")).toBe(123_456_789);
    expect(parseFactSeq(String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("reads anything else as 0 (a value any fact may replace)", () => {
    for (const bad of [undefined, "", "0", "-1", "01", "1.5", "1e3", " 1", "abc", "99999999999999999"]) {
      expect(parseFactSeq(bad)).toBe(0);
    }
  });
});

describe("supersedes", () => {
  it("replaces only values from earlier facts", () => {
    expect(supersedes(5, 0)).toBe(true);
    expect(supersedes(5, 4)).toBe(true);
    expect(supersedes(5, 5)).toBe(false);
    expect(supersedes(5, 6)).toBe(false);
  });
});
