/**
 * The screen of `herald top`, from two stats snapshots (rates are the difference per second):
 * totals, then one row per worker process. Pure: snapshots, time, width and colours come in.
 */
import { COMPONENTS, type Component } from "@herald/protocol";
import type { Colors } from "./colors.js";
import { colors as makeColors } from "./colors.js";
import { bytes, count, localTime, rate, shortDuration, table, truncate } from "./format.js";
import type { StatsSnapshot, WorkerStats } from "./workers.js";

const plain = makeColors(false);

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** Totals of the whole system, as far as the gateways' stats carry them (each gateway views all of it). */
export interface Totals {
  online?: number;
  away?: number;
  /** Users online or away, when the stats do not split them. */
  present?: number;
  /** Users with a stored status (offline ones included). */
  known?: number;
  conns?: number;
  channels?: number;
  members?: number;
}

/**
 * Reads the totals of a gateway's stats: `totals` (online, away, conns, channels, members) or
 * `node` (num_users, num_clients, num_channels) where a gateway reports them, and its view's
 * counts (`view.users`: users with a stored status, `view.members`).
 */
export function gatewayTotals(s: WorkerStats | undefined): Totals {
  if (s === undefined) return {};
  const t: Totals = {};
  const view = obj(s.view);
  const known = num(view?.users);
  const members = num(view?.members);
  if (known !== undefined) t.known = known;
  if (members !== undefined) t.members = members;
  const node = obj(s.node);
  if (node !== undefined) {
    const present = num(node.num_users);
    const conns = num(node.num_clients);
    const channels = num(node.num_channels);
    if (present !== undefined) t.present = present;
    if (conns !== undefined) t.conns = conns;
    if (channels !== undefined) t.channels = channels;
  }
  const totals = obj(s.totals);
  if (totals !== undefined) {
    for (const k of ["online", "away", "conns", "channels", "members"] as const) {
      const v = num(totals[k]);
      if (v !== undefined) t[k] = v;
    }
  }
  return t;
}

/** The counter whose rate a component's row shows, and its unit. */
const WORK: Record<Component, { counter: string; unit: string }> = {
  gateway: { counter: "appended_commands", unit: "cmd" },
  "presence-actor": { counter: "commands", unit: "cmd" },
  "status-projector": { counter: "facts", unit: "fact" },
};

/** Per second, between the same process's two answers; undefined for a new process. */
export function workRate(
  now: WorkerStats,
  before: WorkerStats | undefined,
  component: Component,
  dtMs: number,
): number | undefined {
  const key = WORK[component].counter;
  const a = num(before?.[key]);
  const b = num(now[key]);
  if (a === undefined || b === undefined || dtMs <= 0 || b < a) return undefined;
  return ((b - a) * 1000) / dtMs;
}

/** `16 (0-15)`, `3 (0,4,9)`: partitions owned. */
export function partitionsText(v: unknown): string {
  if (!Array.isArray(v)) return "-";
  const ps = v.filter((p): p is number => typeof p === "number").sort((a, b) => a - b);
  if (ps.length === 0) return "0";
  const ranges: string[] = [];
  let start = ps[0] as number;
  let prev = start;
  for (const p of [...ps.slice(1), Number.NaN]) {
    if (p === prev + 1) {
      prev = p;
      continue;
    }
    ranges.push(start === prev ? `${start}` : `${start}-${prev}`);
    start = p;
    prev = p;
  }
  return `${ps.length} (${ranges.join(",")})`;
}

/** Caught up, lag and notes of one process, by component. */
function details(
  s: WorkerStats,
  component: Component,
  c: Colors,
): { caughtUp: string; lag: string; notes: string } {
  switch (component) {
    case "gateway": {
      const view = obj(s.view);
      const ready = view?.ready === true;
      const pending = num(s.pending_batches) ?? 0;
      return {
        caughtUp: ready ? c.green("yes") : c.yellow("loading"),
        lag: "-",
        notes: `${count(pending)} batches pending${num(s.overloaded) ? `, ${count(num(s.overloaded) ?? 0)} overloaded` : ""}`,
      };
    }
    case "presence-actor": {
      const held = Array.isArray(s.partitions) ? s.partitions.length : 0;
      const caught = num(s.caught_up) ?? 0;
      return {
        caughtUp:
          held === 0
            ? c.dim("standby")
            : caught >= held
              ? c.green(`${caught}/${held}`)
              : c.yellow(`${caught}/${held}`),
        lag: "-",
        notes: `${count(num(s.users) ?? 0)} users, ${count(num(s.timers) ?? 0)} timers`,
      };
    }
    case "status-projector": {
      const pending = num(s.pending);
      return {
        caughtUp: pending === undefined ? "-" : pending === 0 ? c.green("yes") : c.yellow("no"),
        lag: pending === undefined ? "-" : count(pending),
        notes: `${count(num(s.applied) ?? 0)} writes, ${count(num(s.deadLettered) ?? 0)} dead-lettered`,
      };
    }
  }
}

export interface TopScreen {
  /** Header lines: what, where, when. */
  readonly title: string;
  readonly width: number;
  readonly colors?: Colors;
}

function totalsLine(t: Totals, c: Colors): string {
  const item = (label: string, v: number | undefined) =>
    v === undefined ? [] : [`${label} ${c.bold(count(v))}`];
  const parts = [
    ...item("online", t.online),
    ...item("away", t.away),
    ...(t.online === undefined ? item("present", t.present) : []),
    ...item("known users", t.known),
    ...item("live conns", t.conns),
    ...item("channels", t.channels),
    ...item("members", t.members),
  ];
  return parts.length === 0 ? c.dim("no gateway answered: no totals") : parts.join("   ");
}

/** The whole screen as lines. */
export function renderTop(
  now: StatsSnapshot,
  before: StatsSnapshot | undefined,
  screen: TopScreen,
): string[] {
  const c = screen.colors ?? plain;
  const dt = before === undefined ? 0 : now.atMs - before.atMs;
  const gateways = now.workers.gateway;
  const totals = gatewayTotals(gateways.find((g) => obj(g.view)?.ready === true) ?? gateways[0]);
  const rates: Partial<Record<Component, number>> = {};
  const rows: string[][] = [];
  const missing: string[] = [];
  for (const component of COMPONENTS) {
    const list = now.workers[component];
    if (list.length === 0) missing.push(component);
    for (const s of list) {
      const prev = before?.workers[component].find((p) => p.pid === s.pid);
      const r = workRate(s, prev, component, dt);
      if (r !== undefined) rates[component] = (rates[component] ?? 0) + r;
      const d = details(s, component, c);
      rows.push([
        component,
        String(s.pid),
        shortDuration(s.uptime_ms),
        bytes(s.memory?.rss ?? 0),
        bytes(s.memory?.heapUsed ?? 0),
        component === "presence-actor" ? partitionsText(s.partitions) : "-",
        d.caughtUp,
        d.lag,
        r === undefined ? c.dim("-") : `${rate(r).replace("/s", "")} ${WORK[component].unit}/s`,
        d.notes,
      ]);
    }
  }
  const lines = [
    `${c.bold("herald top")}  ${c.dim(screen.title)}  ${localTime(now.atMs, now.atMs)}`,
    "",
    totalsLine(totals, c),
    [
      `commands ${rates.gateway === undefined ? "-" : rate(rates.gateway)} appended`,
      `${rates["presence-actor"] === undefined ? "-" : rate(rates["presence-actor"])} applied`,
      `facts ${rates["status-projector"] === undefined ? "-" : rate(rates["status-projector"])} projected`,
    ].join("   "),
    "",
    ...table(
      ["COMPONENT", "PID", "UPTIME", "RSS", "HEAP", "PARTITIONS", "CAUGHT UP", "LAG", "RATE", "NOTES"],
      rows,
      { colors: c, right: [1, 2, 3, 4, 7] },
    ).split("\n"),
  ];
  if (missing.length > 0) lines.push("", c.red(`no answer from: ${missing.join(", ")}`));
  return lines.map((l) => truncate(l, screen.width));
}
