/**
 * The gateway's in-memory view of the KV projections (pure: no I/O, time is an argument).
 * `presence_status` documents are kept by key (token(user)); `presence_members` documents by
 * key (memberKey) and indexed by channel and by user. Queries follow docs/PRESENCE.md: hidden
 * (invisible) users look offline and their memberships are invisible, except to
 * `get_user_status` with `include_hidden`.
 */
import { encodeToken, type Member, type MemberDoc, type StatusDoc, type UserStatus } from "@herald/protocol";

/** Code-unit order: deterministic and cheap (no locale rules). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isVisible(doc: MemberDoc): boolean {
  return doc.hidden !== true;
}

function addTo(index: Map<string, Map<string, MemberDoc>>, id: string, key: string, doc: MemberDoc): void {
  let docs = index.get(id);
  if (docs === undefined) {
    docs = new Map();
    index.set(id, docs);
  }
  docs.set(key, doc);
}

function removeFrom(index: Map<string, Map<string, MemberDoc>>, id: string, key: string): void {
  const docs = index.get(id);
  if (docs === undefined) return;
  docs.delete(key);
  if (docs.size === 0) index.delete(id);
}

/** Told of every change the KV watches bring (the WebSocket edge's replicas follow it). */
export interface ViewListener {
  member(before: MemberDoc | undefined, after: MemberDoc | undefined): void;
  status(key: string, doc: StatusDoc | undefined): void;
}

export class PresenceView {
  listener: ViewListener | undefined;
  readonly #status = new Map<string, StatusDoc>();
  readonly #members = new Map<string, MemberDoc>();
  /** channel → member key → member. */
  readonly #byChannel = new Map<string, Map<string, MemberDoc>>();
  /** user → member key → member. */
  readonly #byUser = new Map<string, Map<string, MemberDoc>>();
  /** Users by the status others see, and live conns, kept as documents come and go. */
  readonly #byStatus = { online: 0, away: 0, offline: 0 };
  #conns = 0;

  // ---- updates (from the KV watches) ---------------------------------------------------------

  putStatus(key: string, doc: StatusDoc): void {
    this.#uncount(this.#status.get(key));
    this.#status.set(key, doc);
    this.#byStatus[doc.status]++;
    this.#conns += doc.conns;
    this.listener?.status(key, doc);
  }

  deleteStatus(key: string): void {
    this.#uncount(this.#status.get(key));
    this.#status.delete(key);
    this.listener?.status(key, undefined);
  }

  #uncount(doc: StatusDoc | undefined): void {
    if (doc === undefined) return;
    this.#byStatus[doc.status]--;
    this.#conns -= doc.conns;
  }

  putMember(key: string, doc: MemberDoc): void {
    const old = this.#remove(key);
    this.#members.set(key, doc);
    addTo(this.#byChannel, doc.channel, key, doc);
    addTo(this.#byUser, doc.user, key, doc);
    this.listener?.member(old, doc);
  }

  deleteMember(key: string): void {
    const old = this.#remove(key);
    if (old !== undefined) this.listener?.member(old, undefined);
  }

  #remove(key: string): MemberDoc | undefined {
    const old = this.#members.get(key);
    if (old === undefined) return undefined;
    this.#members.delete(key);
    removeFrom(this.#byChannel, old.channel, key);
    removeFrom(this.#byUser, old.user, key);
    return old;
  }

  /** Every status document by its KV key (for a reload of the bucket). */
  get statusByKey(): ReadonlyMap<string, StatusDoc> {
    return this.#status;
  }

  /** Every member by its KV key (for a reload of the bucket). */
  get membersByKey(): ReadonlyMap<string, MemberDoc> {
    return this.#members;
  }

  /** The status document of `user`, as stored (hidden users included). */
  statusDoc(user: string): StatusDoc | undefined {
    return this.#status.get(encodeToken(user));
  }

  get counts(): { users: number; members: number } {
    return { users: this.#status.size, members: this.#members.size };
  }

  /**
   * Users by the status others see (offline: known, with no live conn: an invisible user is
   * offline here), live conns, channels with a member and members.
   */
  totals(): {
    online: number;
    away: number;
    offline: number;
    conns: number;
    channels: number;
    members: number;
  } {
    return {
      ...this.#byStatus,
      conns: this.#conns,
      channels: this.#byChannel.size,
      members: this.#members.size,
    };
  }

  // ---- queries -------------------------------------------------------------------------------

  /** Statuses in request order; `online` is now (unix seconds) while the user has a live conn. */
  getUserStatus(users: readonly string[], includeHidden: boolean, nowMs: number): UserStatus[] {
    const nowS = Math.floor(nowMs / 1000);
    return users.map((user) => {
      const doc = this.#status.get(encodeToken(user));
      if (doc === undefined) return { user, status: "offline" };
      let shown: { status: UserStatus["status"]; online?: number; active?: number };
      if (doc.hidden === true) {
        if (!includeHidden) return { user, status: "offline" };
        shown = doc.actual ?? doc;
      } else {
        shown = doc;
      }
      const online = doc.conns > 0 ? nowS : shown.online;
      return {
        user,
        status: shown.status,
        ...(online !== undefined ? { online } : {}),
        ...(shown.active !== undefined ? { active: shown.active } : {}),
        ...(doc.manual !== undefined ? { manual: doc.manual } : {}),
      };
    });
  }

  /** Visible members of the channel, by user then conn. */
  presence(channel: string): Member[] {
    const members: Member[] = [];
    for (const doc of this.#byChannel.get(channel)?.values() ?? []) {
      if (!isVisible(doc)) continue;
      const { user, conn, data, joined_at_ms, updated_at_ms } = doc;
      members.push({ user, conn, data, joined_at_ms, updated_at_ms });
    }
    return members.sort((a, b) => compare(a.user, b.user) || compare(a.conn, b.conn));
  }

  presenceStats(channel: string): { num_clients: number; num_users: number } {
    let clients = 0;
    const users = new Set<string>();
    for (const doc of this.#byChannel.get(channel)?.values() ?? []) {
      if (!isVisible(doc)) continue;
      clients++;
      users.add(doc.user);
    }
    return { num_clients: clients, num_users: users.size };
  }

  /** Users with a visible member in the channel, each once, sorted. */
  channelUsers(channel: string): string[] {
    const users = new Set<string>();
    for (const doc of this.#byChannel.get(channel)?.values() ?? []) {
      if (isVisible(doc)) users.add(doc.user);
    }
    return [...users].sort(compare);
  }

  /** Channels where the user has a visible member, sorted. */
  userChannels(user: string): string[] {
    const channels = new Set<string>();
    for (const doc of this.#byUser.get(user)?.values() ?? []) {
      if (isVisible(doc)) channels.add(doc.channel);
    }
    return [...channels].sort(compare);
  }

  isPresent(channel: string, user: string): boolean {
    for (const doc of this.#byUser.get(user)?.values() ?? []) {
      if (doc.channel === channel && isVisible(doc)) return true;
    }
    return false;
  }
}
