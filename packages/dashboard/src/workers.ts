/** The workers table, the partitions no presence-actor owns, and the dead letters. */
import { byId, h, setText, syncRows } from "./dom.js";
import { bytes, count, duration, ranges, rate } from "./format.js";
import type { Tick, WorkerRow } from "./wire.js";

const WORK_UNIT: Record<WorkerRow["component"], string> = {
  gateway: "commands",
  "presence-actor": "commands",
  "status-projector": "facts",
};

function partitionsOf(w: WorkerRow): string {
  if (w.partitions === undefined) return "";
  if (w.partitions.length === 0) return "none (standby)";
  return `${ranges(w.partitions)} (${w.caught_up ?? 0}/${w.partitions.length} caught up)`;
}

function update(row: HTMLTableRowElement, w: WorkerRow): void {
  row.className = w.health;
  row.dataset.component = w.component;
  row.dataset.pid = String(w.pid);
  row.dataset.health = w.health;
  const cells = Array.from(row.cells);
  const [name, health, uptime, memory, partitions, lag, dead, work] = cells;
  if (work === undefined || name === undefined || health === undefined) return;
  setText(name, `${w.component} ${w.pid}`);
  const badge = health.firstElementChild as HTMLElement;
  badge.className = `badge note ${w.health}`;
  setText(badge, w.note === "" ? w.health : `${w.health}: ${w.note}`);
  setText(uptime as HTMLElement, w.answered ? duration(w.uptime_ms) : "–");
  setText(memory as HTMLElement, bytes(w.rss_bytes));
  (memory as HTMLElement).title = `resident ${bytes(w.rss_bytes)}, heap used ${bytes(w.heap_used_bytes)}`;
  setText(partitions as HTMLElement, partitionsOf(w));
  setText(lag as HTMLElement, w.lag === undefined ? "" : count(w.lag));
  setText(dead as HTMLElement, w.dead_letters === undefined ? "" : count(w.dead_letters));
  setText(work, w.rate_per_s === null ? "–" : `${rate(w.rate_per_s)} ${WORK_UNIT[w.component]}`);
}

export function renderWorkers(tick: Tick): void {
  const table = byId<HTMLTableElement>("workers");
  syncRows(
    table.tBodies[0] as HTMLTableSectionElement,
    tick.workers,
    (w) => w.key,
    () =>
      h(
        "tr",
        {},
        h("th", { attrs: { scope: "row" }, class: "mono" }),
        h("td", {}, h("span", { class: "badge" })),
        h("td", { class: "num" }),
        h("td", { class: "num" }),
        h("td"),
        h("td", { class: "num" }),
        h("td", { class: "num" }),
        h("td", { class: "num" }),
      ),
    update,
  );
  const partitions = byId("partitions");
  const unowned = tick.partitions.unowned;
  partitions.dataset.unowned = unowned.join(",");
  if (tick.workers_at_ms === null) {
    partitions.className = "line muted";
    setText(partitions, "Asking the workers…");
  } else if (unowned.length === 0) {
    partitions.className = "line";
    setText(partitions, `Partitions: ${tick.partitions.total}, each owned by a presence-actor.`);
  } else {
    partitions.className = "line error";
    setText(
      partitions,
      `Partitions no presence-actor owns: ${ranges(unowned)} of ${tick.partitions.total} (their users' commands wait).`,
    );
  }
  const dead = byId("dead-letters");
  const dl = tick.dead_letters;
  if (dl === null) {
    setText(dead, "");
  } else {
    dead.className = dl.total > 0 ? "line error" : "line";
    dead.dataset.value = String(dl.total);
    const sources = Object.entries(dl.by_source)
      .map(([s, n]) => `${s} ${count(n)}`)
      .join(", ");
    setText(dead, `Dead letters stored: ${count(dl.total)}${sources === "" ? "" : ` (${sources})`}.`);
  }
}
