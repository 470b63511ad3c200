/**
 * The pure core of status-projector: which KV writes a batch of facts makes, and when a write
 * is stale. No I/O: the adapter (kv-writer.ts, app.ts) reads and writes NATS around it.
 *
 * Each fact carries the whole new document of one key (or `doc: null` to remove it), so folding
 * is "the last fact for a key wins": a batch makes one write per key, from its latest fact,
 * stamped with that fact's stream sequence. A write only ever replaces an older sequence.
 */
import {
  buckets,
  decodeFact,
  encodeToken,
  type Fact,
  internalSubjects,
  json,
  memberKey,
} from "@herald/protocol";

/** A fact with its sequence in the events stream. */
export interface SequencedFact {
  readonly seq: number;
  readonly fact: Fact;
}

/** Where a fact's document lives. */
export interface KvTarget {
  readonly bucket: string;
  readonly key: string;
}

interface KvWriteBase extends KvTarget {
  /** Stream sequence of the fact this write comes from. */
  readonly seq: number;
}

/** Store `value` (the document's JSON) under the key. */
export interface KvPut extends KvWriteBase {
  readonly op: "put";
  readonly value: Uint8Array;
}

/** Delete the key (a KV delete marker). */
export interface KvDelete extends KvWriteBase {
  readonly op: "del";
}

export type KvWrite = KvPut | KvDelete;

/** The bucket and key a fact's document is stored under. */
export function targetOf(fact: Fact): KvTarget {
  return fact.type === "user"
    ? { bucket: buckets.status, key: encodeToken(fact.user) }
    : { bucket: buckets.members, key: memberKey(fact.channel, fact.user, fact.conn) };
}

/**
 * Why a fact that passed its schema still cannot be applied, or undefined when it can: its
 * document must describe the key it is stored under.
 */
export function factProblem(fact: Fact): string | undefined {
  const doc = fact.doc;
  if (doc === null) return undefined;
  if (doc.user !== fact.user) return "fact.doc.user differs from fact.user";
  if (fact.type === "member" && fact.doc !== null) {
    if (fact.doc.channel !== fact.channel) return "fact.doc.channel differs from fact.channel";
    if (fact.doc.conn !== fact.conn) return "fact.doc.conn differs from fact.conn";
  }
  return undefined;
}

/** A stored fact, decoded and checked: usable, or the reason it is not. */
export type ReadFact =
  | { readonly ok: true; readonly fact: SequencedFact }
  | { readonly ok: true; readonly fact: undefined }
  | { readonly ok: false; readonly reason: string };

/**
 * Decodes and checks the fact stored at `seq`: the one gate every fact passes, for the live
 * projector and the rebuild alike.
 */
export function readFact(seq: number, data: Uint8Array, subject?: string): ReadFact {
  // A nudge (see `internalSubjects.factNudge`) carries nothing to project.
  if (subject === internalSubjects.factNudge) return { ok: true, fact: undefined };
  try {
    const fact = decodeFact(data);
    const problem = factProblem(fact);
    return problem === undefined ? { ok: true, fact: { seq, fact } } : { ok: false, reason: problem };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

const targetId = (t: KvTarget): string => `${t.bucket} ${t.key}`;

/**
 * The KV writes a batch of facts makes: one per key, from the fact with the highest sequence
 * for that key (later facts replace the whole document), in sequence order.
 */
export function project(facts: readonly SequencedFact[]): KvWrite[] {
  const latest = new Map<string, SequencedFact>();
  for (const item of facts) {
    const id = targetId(targetOf(item.fact));
    const seen = latest.get(id);
    if (seen === undefined || seen.seq < item.seq) latest.set(id, item);
  }
  return [...latest.values()].sort((a, b) => a.seq - b.seq).map(writeOf);
}

function writeOf({ seq, fact }: SequencedFact): KvWrite {
  const target = targetOf(fact);
  return fact.doc === null
    ? { op: "del", ...target, seq }
    : { op: "put", ...target, seq, value: json.encode(fact.doc) };
}

/**
 * The fact sequence a stored value carries in its header: 0 when it has none (or not a valid
 * one), as for a value some other writer stored, which any fact may replace.
 */
export function parseFactSeq(header: string | undefined): number {
  if (header === undefined || !/^[1-9]\d{0,15}$/.test(header)) return 0;
  const seq = Number(header);
  return Number.isSafeInteger(seq) ? seq : 0;
}

/** A write from fact `seq` replaces a stored value only when that value is from an earlier fact. */
export function supersedes(seq: number, storedSeq: number): boolean {
  return seq > storedSeq;
}
