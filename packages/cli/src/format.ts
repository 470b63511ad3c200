/**
 * Formatting for people: times as local clock times and "3m ago", sizes, durations, aligned
 * tables, and one line per live event. Pure: the time `now` and the colours come in.
 */
import type { ChannelEvent, ManualStatus, PresenceEvent, StatusEvent } from "@herald/contract";
import { type Colors, colors as makeColors } from "./colors.js";

const plain = makeColors(false);

const pad2 = (n: number) => String(n).padStart(2, "0");

/** `14:03:22` when `ms` is today (local time), else `2025-05-01 14:03:22`. */
export function localTime(ms: number, nowMs: number): string {
  const d = new Date(ms);
  const now = new Date(nowMs);
  const clock = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  const sameDay =
    d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
  return sameDay ? clock : `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${clock}`;
}

/** `14:03:22.045`: a clock time with milliseconds (live events). */
export function clockMs(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/** `45s`, `3m`, `2h 5m`, `3d 4h`: the largest one or two units. */
export function shortDuration(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 || m >= 10 ? `${m}m` : `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d ${h % 24}h`;
}

/** `just now`, `12s ago`, `3m ago`, `in 5m`. */
export function ago(ms: number, nowMs: number): string {
  const diff = nowMs - ms;
  if (Math.abs(diff) < 1000) return "just now";
  return diff > 0 ? `${shortDuration(diff)} ago` : `in ${shortDuration(-diff)}`;
}

/** A time as `14:03:22 (3m ago)`. */
export function when(ms: number, nowMs: number): string {
  return `${localTime(ms, nowMs)} (${ago(ms, nowMs)})`;
}

/** `512 B`, `12.3 KiB`, `80.1 MiB`, `1.2 GiB`. */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** `1,234,567`, whatever the machine's locale. */
export const count = (n: number): string => Math.round(n).toLocaleString("en-US");

/** `1 member`, `2 members`. */
export const plural = (n: number, word: string): string => `${count(n)} ${word}${n === 1 ? "" : "s"}`;

/** `812/s`, `8.1k/s`, `1.2M/s`. */
export function rate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(1)}M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)}k/s`;
  if (perSecond > 0 && perSecond < 10) return `${perSecond.toFixed(1)}/s`;
  return `${Math.round(perSecond)}/s`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are what it removes
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** The text without ANSI escapes. */
export const stripAnsi = (text: string): string => text.replace(ANSI, "");

/** Columns a string takes (code points, escapes not counted). */
export const visibleWidth = (text: string): number => [...stripAnsi(text)].length;

/** `text` padded with spaces to `width` visible columns. */
export function padEnd(text: string, width: number): string {
  const w = visibleWidth(text);
  return w >= width ? text : text + " ".repeat(width - w);
}

export function padStart(text: string, width: number): string {
  const w = visibleWidth(text);
  return w >= width ? text : " ".repeat(width - w) + text;
}

/** `text` cut to `width` columns with `…` (escapes are dropped from a cut text). */
export function truncate(text: string, width: number): string {
  if (visibleWidth(text) <= width) return text;
  const chars = [...stripAnsi(text)];
  return width <= 1 ? chars.slice(0, width).join("") : `${chars.slice(0, width - 1).join("")}…`;
}

export interface TableOptions {
  readonly colors?: Colors;
  /** Columns aligned right (numbers), by index. */
  readonly right?: readonly number[];
}

/** An aligned table: a header row (bold when coloured) and rows, two spaces between columns. */
export function table(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  opts: TableOptions = {},
): string {
  const c = opts.colors ?? plain;
  const widths = headers.map((h, i) =>
    Math.max(visibleWidth(h), ...rows.map((r) => visibleWidth(r[i] ?? ""))),
  );
  const right = new Set(opts.right ?? []);
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => {
        const w = widths[i] as number;
        if (right.has(i)) return padStart(cell, w);
        return i === cells.length - 1 ? cell : padEnd(cell, w);
      })
      .join("  ")
      .trimEnd();
  return [c.bold(line(headers)), ...rows.map(line)].join("\n");
}

/** A status in its colour: online green, away yellow, offline dim. */
export function statusText(status: string, c: Colors): string {
  switch (status) {
    case "online":
      return c.green(status);
    case "away":
      return c.yellow(status);
    case "offline":
      return c.dim(status);
    default:
      return status;
  }
}

/** `dnd "in a meeting" 📅 until 15:00:00`: a manual status. */
export function manualText(manual: ManualStatus | undefined, nowMs: number, c: Colors = plain): string {
  if (manual === undefined) return "";
  const parts: string[] = [manual.status === "dnd" ? c.red("dnd") : c.magenta(manual.status)];
  if (manual.emoji !== undefined) parts.push(manual.emoji);
  if (manual.text !== undefined) parts.push(JSON.stringify(manual.text));
  if (manual.expires_at_ms !== undefined) parts.push(`until ${localTime(manual.expires_at_ms, nowMs)}`);
  return parts.join(" ");
}

/** Compact JSON of a member's data; empty for `{}`. */
export function dataText(data: unknown): string {
  if (data === undefined) return "";
  const text = JSON.stringify(data);
  return text === "{}" ? "" : text;
}

/** Column widths of {@link eventLine}, so that lines of one stream align. */
export interface EventWidths {
  type: number;
  subject: number;
  who: number;
}

export const initialWidths = (): EventWidths => ({ type: 6, subject: 12, who: 12 });

function statusEventText(e: StatusEvent, nowMs: number, c: Colors) {
  const change = `${statusText(e.prev, c)} → ${statusText(e.status, c)}`;
  const manual = manualText(e.manual, nowMs, c);
  return { subject: c.cyan(e.user), who: "", detail: manual === "" ? change : `${change}  ${manual}` };
}

function channelEventText(e: ChannelEvent, c: Colors) {
  const flags = [
    e.type === "join" && e.first === true ? "first" : "",
    e.type === "leave" ? e.reason : "",
    e.type === "leave" && e.last === true ? "last" : "",
  ].filter((f) => f !== "");
  const detail = [flags.length > 0 ? c.dim(flags.join(" ")) : "", dataText(e.data)].filter((s) => s !== "");
  return {
    subject: c.blue(e.channel),
    who: `${c.cyan(e.user)}${c.dim(`/${e.conn}`)}`,
    detail: detail.join("  "),
  };
}

const TYPE_COLOR: Record<string, keyof Colors> = {
  status: "magenta",
  join: "green",
  update: "yellow",
  leave: "red",
};

/**
 * One live event for a terminal: `14:03:22.045  join    room:1   alice/tab-1  first  {"x":1}`.
 * The widths grow to the longest seen, so a stream stays aligned.
 */
export function eventLine(e: PresenceEvent, widths: EventWidths, c: Colors, nowMs: number): string {
  const parts = e.type === "status" ? statusEventText(e, nowMs, c) : channelEventText(e as ChannelEvent, c);
  const colorOf = TYPE_COLOR[e.type];
  const type = colorOf === undefined ? e.type : (c[colorOf] as (s: string) => string)(e.type);
  widths.type = Math.max(widths.type, visibleWidth(e.type));
  widths.subject = Math.max(widths.subject, Math.min(40, visibleWidth(parts.subject)));
  widths.who = Math.max(widths.who, Math.min(40, visibleWidth(parts.who)));
  const cells = [c.dim(clockMs(e.at_ms)), padEnd(type, widths.type), padEnd(parts.subject, widths.subject)];
  if (e.type !== "status") cells.push(padEnd(parts.who, widths.who));
  cells.push(parts.detail);
  return cells.join("  ").trimEnd();
}
