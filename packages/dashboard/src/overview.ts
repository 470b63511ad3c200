/** The totals and the top channels, from each tick. */
import { byId, h, idLink, setText, syncRows } from "./dom.js";
import { count } from "./format.js";
import type { ChannelCount, Tick, Totals } from "./wire.js";

const TOTALS: readonly (keyof Totals)[] = [
  "online",
  "away",
  "offline",
  "conns",
  "channels",
  "members",
  "ws_clients",
];

export function renderTotals(tick: Tick): void {
  for (const name of TOTALS) {
    const dd = byId(`total-${name}`);
    dd.dataset.value = String(tick.totals[name]);
    setText(dd, count(tick.totals[name]));
  }
  setText(byId("view-state"), tick.view_ready ? "" : "(the gateway's view is still loading)");
}

export function renderTopChannels(tick: Tick): void {
  const table = byId<HTMLTableElement>("channels");
  syncRows(
    table.tBodies[0] as HTMLTableSectionElement,
    tick.top_channels,
    (c) => c.channel,
    (c) =>
      h("tr", { data: { channel: c.channel } }, h("td", {}, idLink("channel", c.channel)), h("td"), h("td")),
    (row, c: ChannelCount) => {
      const [, members, users] = Array.from(row.cells);
      if (members === undefined || users === undefined) return;
      members.className = "num";
      users.className = "num";
      members.dataset.value = String(c.num_clients);
      users.dataset.value = String(c.num_users);
      setText(members, count(c.num_clients));
      setText(users, count(c.num_users));
    },
  );
  byId("channels-empty").hidden = tick.top_channels.length > 0;
}
