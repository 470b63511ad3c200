/** The channel view: its counts, members with their data, and its recent events. */
import { facts, h, idLink } from "./dom.js";
import { count, time } from "./format.js";
import { eventItem } from "./tail.js";
import type { ChannelView } from "./wire.js";

export function renderChannel(v: ChannelView): HTMLElement {
  const now = Date.now();
  const members = h(
    "tbody",
    {},
    ...v.members.map((m) =>
      h(
        "tr",
        { data: { user: m.user, conn: m.conn } },
        h("td", {}, idLink("user", m.user)),
        h("td", { class: "mono" }, m.conn),
        h("td", { class: "data" }, h("code", {}, JSON.stringify(m.data))),
        h("td", { class: "when" }, time(m.joined_at_ms, now)),
        h("td", { class: "when" }, time(m.updated_at_ms, now)),
      ),
    ),
  );
  const events = h("ol", { class: "events", attrs: { "aria-label": "recent events, newest first" } });
  for (const e of [...v.events].reverse()) events.append(eventItem(e, now));
  return h(
    "article",
    { data: { channel: v.channel }, attrs: { "aria-label": `channel ${v.channel}` } },
    h("h3", {}, "Channel ", h("span", { class: "mono", data: { id: v.channel } }, v.channel)),
    facts([
      [
        "Members",
        h(
          "span",
          { data: { value: v.stats.num_clients }, attrs: { id: "channel-clients" } },
          count(v.stats.num_clients),
        ),
      ],
      [
        "Users",
        h(
          "span",
          { data: { value: v.stats.num_users }, attrs: { id: "channel-users" } },
          count(v.stats.num_users),
        ),
      ],
    ]),
    h("h3", {}, "Members"),
    v.members.length === 0
      ? h("p", { class: "muted" }, "No member.")
      : h(
          "div",
          { class: "scroll" },
          h(
            "table",
            { attrs: { id: "channel-members" } },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ...["User", "Conn", "Data", "Joined", "Updated"].map((t) =>
                  h("th", { attrs: { scope: "col" } }, t),
                ),
              ),
            ),
            members,
          ),
        ),
    h("h3", {}, `Recent events (since ${time(v.since_ms, now)})`),
    v.events.length === 0 ? h("p", { class: "muted" }, "No event in that time.") : events,
  );
}
