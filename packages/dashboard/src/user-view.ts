/**
 * The user view: its status as others see it (and as it is, for an invisible user), manual
 * status, live conns, channels, and the timeline of its status history over a chosen window.
 */
import type { PresenceEvent, UserStatus } from "@herald/contract";
import { badge, type Child, facts, h, idLink } from "./dom.js";
import { count, duration, seconds, time } from "./format.js";
import { segments } from "./timeline.js";
import type { UserView } from "./wire.js";

/** The timeline's windows; the first is the default. */
export const WINDOWS: readonly { label: string; ms: number }[] = [
  { label: "1 hour", ms: 3_600_000 },
  { label: "24 hours", ms: 86_400_000 },
  { label: "7 days", ms: 7 * 86_400_000 },
];

function statusText(s: UserStatus): Child[] {
  const out: Child[] = [badge(s.status)];
  if (s.manual !== undefined) {
    const m = s.manual;
    const extra = [m.emoji, m.text].filter((x) => x !== undefined && x !== "").join(" ");
    out.push(" ", badge(`manual: ${m.status}`, "warn"));
    if (extra !== "") out.push(" ", extra);
    if (m.expires_at_ms !== undefined)
      out.push(h("span", { class: "muted" }, ` until ${time(m.expires_at_ms)}`));
  }
  return out;
}

function timeline(v: UserView, nowMs: number): HTMLElement {
  const parts = segments(v.history, v.since_ms, nowMs, v.status.status);
  const total = Math.max(1, nowMs - v.since_ms);
  const bar = h("div", {
    class: "timeline",
    attrs: {
      role: "img",
      "aria-label": `Status since ${time(v.since_ms, nowMs)}: ${parts.map((p) => `${p.status} ${duration(p.to_ms - p.from_ms)}`).join(", ")}`,
    },
  });
  for (const p of parts) {
    const seg = h("span", {
      class: p.status,
      attrs: { title: `${p.status} from ${time(p.from_ms, nowMs)} to ${time(p.to_ms, nowMs)}` },
    });
    seg.style.flexGrow = String((p.to_ms - p.from_ms) / total);
    bar.append(seg);
  }
  return bar;
}

function historyTable(history: readonly PresenceEvent[]): HTMLElement {
  const now = Date.now();
  const body = h("tbody");
  for (const e of [...history].reverse()) {
    if (e.type !== "status") continue;
    body.append(
      h(
        "tr",
        { data: { at: e.at_ms, status: e.status, prev: e.prev } },
        h("td", { class: "when" }, time(e.at_ms, now)),
        h("td", {}, badge(e.prev), " → ", badge(e.status)),
        h(
          "td",
          {},
          e.manual === undefined
            ? ""
            : `${e.manual.status}${e.manual.text !== undefined ? ` “${e.manual.text}”` : ""}`,
        ),
      ),
    );
  }
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      { attrs: { id: "user-history" } },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...["Time", "Change", "Manual status"].map((t) => h("th", { attrs: { scope: "col" } }, t)),
        ),
      ),
      body,
    ),
  );
}

export function renderUser(v: UserView, windowMs: number, onWindow: (ms: number) => void): HTMLElement {
  const now = Date.now();
  const hidden = v.actual.status !== v.status.status;
  const picker = h("div", { class: "row", attrs: { role: "group", "aria-label": "timeline window" } });
  for (const w of WINDOWS) {
    const b = h(
      "button",
      { class: "plain", attrs: { type: "button", "aria-pressed": String(w.ms === windowMs) } },
      w.label,
    );
    b.addEventListener("click", () => onWindow(w.ms));
    picker.append(b);
  }
  const channels: Child[] =
    v.channels.length === 0
      ? ["none"]
      : v.channels.flatMap((c, i) => [i > 0 ? ", " : "", idLink("channel", c)]);
  return h(
    "article",
    { data: { user: v.user }, attrs: { "aria-label": `user ${v.user}` } },
    h("h3", {}, "User ", h("span", { class: "mono", data: { id: v.user } }, v.user)),
    facts([
      [
        "Status",
        h(
          "span",
          { attrs: { id: "user-status" }, data: { value: v.status.status } },
          ...statusText(v.status),
        ),
      ],
      ...(hidden
        ? ([
            [
              "Actually",
              h(
                "span",
                { data: { value: v.actual.status } },
                badge(v.actual.status),
                " (invisible to others)",
              ),
            ],
          ] as [string, Child][])
        : []),
      [
        "Live conns",
        h(
          "span",
          { attrs: { id: "user-conns" }, data: { value: v.conns ?? "" } },
          v.conns === null ? "–" : count(v.conns),
        ),
      ],
      ["Last online", seconds(v.actual.online, now)],
      ["Last active", seconds(v.actual.active, now)],
      [
        "Channels",
        h("span", { attrs: { id: "user-channels" }, data: { value: v.channels.join("\n") } }, ...channels),
      ],
    ]),
    h("h3", {}, "Status timeline"),
    picker,
    timeline(v, now),
    h("div", { class: "legend" }, badge("online"), badge("away"), badge("offline")),
    v.history.length >= 1000
      ? h("p", { class: "muted" }, "Only the first 1000 changes of this window are shown.")
      : null,
    historyTable(v.history),
  );
}
