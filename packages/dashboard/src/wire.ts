/**
 * What the gateway's dashboard endpoints answer and stream (README "Dashboard"): the one
 * definition of their paths and shapes, used by the gateway (server) and by the page (client).
 * Pure: no DOM, no Node.
 */
import type { Member, PresenceEvent, UserStatus } from "@herald/contract";

/** The page, its files, and the data endpoints (all but `page`, `assets` and `session` need the API key). */
export const paths = {
  page: "/dashboard",
  /** `/dashboard/assets/<file>`: the page's modules, styles and uPlot. */
  assets: "/dashboard/assets",
  /** Whether a key is needed and whether the one presented is right (never 401). */
  session: "/dashboard/session",
  api: "/dashboard/api",
  /** Server-sent events: `hello`, then a `tick` a second and `events` batches of the live tail. */
  stream: "/dashboard/api/stream",
  /** The latest tick (the stream's `tick`), for scripts. */
  overview: "/dashboard/api/overview",
  /** `?channel=`: one channel's members and recent events. */
  channel: "/dashboard/api/channel",
  /** `?user=`: one user's status, conns, channels and status history. */
  user: "/dashboard/api/user",
} as const;

/** The stream's event names. */
export const streamEvents = { hello: "hello", tick: "tick", events: "events" } as const;

/** Filters of the live tail (`/dashboard/api/stream?user=&channel=&type=`); absent: any. */
export interface TailFilter {
  readonly user?: string;
  readonly channel?: string;
  readonly type?: PresenceEvent["type"];
}

export type WorkerComponent = "gateway" | "presence-actor" | "status-projector";

/** How a worker looks at a glance: `warn` (lagging, catching up, dead letters), `bad` (not answering). */
export type Health = "ok" | "warn" | "bad";

/** Users by status, live conns, channels and members (the gateway's view), and its WebSocket clients. */
export interface Totals {
  readonly online: number;
  readonly away: number;
  /** Offline users the view still knows (with stored `online`/`active` times). */
  readonly offline: number;
  readonly conns: number;
  readonly channels: number;
  readonly members: number;
  /** WebSocket clients of every gateway that answered (this gateway's alone until they have). */
  readonly ws_clients: number;
}

/** One point of the charts; null where there is no rate yet (the first sample). */
export interface SeriesPoint {
  readonly at_ms: number;
  /** Commands appended per second by every gateway that answered. */
  readonly commands_per_s: number | null;
  /** Live events per second (every public event, all users and channels). */
  readonly events_per_s: number | null;
  /** Queries answered per second by the gateway that serves the page. */
  readonly queries_per_s: number | null;
  /** Its query latency over the last second (milliseconds; null with no query). */
  readonly query_p50_ms: number | null;
  readonly query_p99_ms: number | null;
}

/** One worker process, from its answer to `herald.admin.stats.<component>`. */
export interface WorkerRow {
  /** `component:pid` (stable while the process runs). */
  readonly key: string;
  readonly component: WorkerComponent;
  readonly pid: number;
  /** presence-actor's owner id. */
  readonly owner?: string;
  readonly uptime_ms: number;
  readonly rss_bytes: number;
  readonly heap_used_bytes: number;
  /** presence-actor: the partitions it owns, and how many of them have caught up. */
  readonly partitions?: readonly number[];
  readonly caught_up?: number;
  /** Messages not applied yet (status-projector's consumer lag; presence-actor's when it says). */
  readonly lag?: number;
  /** Messages it set aside in the dead-letter stream since it started (when it says). */
  readonly dead_letters?: number;
  /** gateway: the WebSocket clients connected to it. */
  readonly ws_clients?: number;
  /** Its work per second: commands appended (gateway), applied (presence-actor), facts projected (status-projector). */
  readonly rate_per_s: number | null;
  readonly health: Health;
  /** Why the health is not `ok`, in a few words. */
  readonly note: string;
  /** False when it answered before but not this time (shown for a while, then dropped). */
  readonly answered: boolean;
}

export interface ChannelCount {
  readonly channel: string;
  readonly num_clients: number;
  readonly num_users: number;
}

/** Everything the page shows but the detail views and the tail; one a second. */
export interface Tick extends SeriesPoint {
  readonly totals: Totals;
  /** False while the gateway's view is still loading the KV buckets. */
  readonly view_ready: boolean;
  readonly workers: readonly WorkerRow[];
  /** When the workers last answered (null: not asked yet, or the gateway cannot reach NATS). */
  readonly workers_at_ms: number | null;
  /** The command stream's partitions and those no presence-actor owns now. */
  readonly partitions: { readonly total: number; readonly unowned: readonly number[] };
  /** Messages in the dead-letter stream by source (null: not read yet, or unreadable). */
  readonly dead_letters: {
    readonly total: number;
    readonly by_source: Readonly<Record<string, number>>;
  } | null;
  /** Channels with the most members (visible ones, as `presence_stats` counts them). */
  readonly top_channels: readonly ChannelCount[];
}

/** The stream's first event: the charts' recent points and the latest tick. */
export interface Hello {
  readonly series: readonly SeriesPoint[];
  readonly tick: Tick | null;
  /** How much time `series` may span. */
  readonly window_ms: number;
}

/** Live events that passed the stream's filter; `dropped`: those left out to keep the page responsive. */
export interface EventBatch {
  readonly events: readonly PresenceEvent[];
  readonly dropped: number;
}

export interface ChannelView {
  readonly channel: string;
  readonly stats: { readonly num_clients: number; readonly num_users: number };
  readonly members: readonly Member[];
  /** Its events since `since_ms`, oldest first (the newest `history` allows). */
  readonly events: readonly PresenceEvent[];
  readonly since_ms: number;
}

export interface UserView {
  readonly user: string;
  /** As others see it (`get_user_status`). */
  readonly status: UserStatus;
  /** As trusted backends see it (`include_hidden`): differs for an invisible user. */
  readonly actual: UserStatus;
  /** Live conns (from the `presence_status` value); null when it could not be read. */
  readonly conns: number | null;
  readonly channels: readonly string[];
  /** Its status events since `since_ms`, oldest first (`history`). */
  readonly history: readonly PresenceEvent[];
  readonly since_ms: number;
}

export interface Session {
  readonly key_required: boolean;
  readonly authorized: boolean;
}
