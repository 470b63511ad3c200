/**
 * The live event tail: the stream's `events` batches, newest first, at most {@link KEEP} kept;
 * pausing keeps the list still (what arrives meanwhile is counted, not shown). The filter form
 * reopens the stream with the new filter (the gateway filters, so a busy cluster's events do not
 * all come to the page).
 */
import type { PresenceEvent } from "@herald/contract";
import { badge, byId, h, idLink, setText } from "./dom.js";
import { time } from "./format.js";
import type { EventBatch, TailFilter } from "./wire.js";

const KEEP = 200;

/** One event as a list item (the tail's and a channel's recent events). */
export function eventItem(e: PresenceEvent, now = Date.now()): HTMLLIElement {
  const li = h(
    "li",
    { data: { type: e.type, user: e.user, at: e.at_ms } },
    h("span", { class: "when" }, time(e.at_ms, now)),
    badge(e.type),
  );
  if (e.type === "status") {
    li.append(idLink("user", e.user), h("span", {}, `${e.prev} → `), badge(e.status));
    if (e.manual !== undefined) li.append(h("span", { class: "muted" }, `manual: ${e.manual.status}`));
    return li;
  }
  li.dataset.channel = e.channel;
  li.append(
    idLink("user", e.user),
    h("span", { class: "mono" }, e.conn),
    h("span", {}, "in"),
    idLink("channel", e.channel),
  );
  if (e.type === "leave")
    li.append(h("span", { class: "muted" }, `(${e.reason}${e.last === true ? ", last" : ""})`));
  if (e.type === "join" && e.first === true) li.append(h("span", { class: "muted" }, "(first)"));
  if ((e.type === "join" || e.type === "update") && e.data !== undefined && Object.keys(e.data).length > 0) {
    li.append(h("code", {}, JSON.stringify(e.data)));
  }
  return li;
}

export class TailView {
  readonly #list = byId<HTMLOListElement>("tail");
  readonly #state = byId("tail-state");
  readonly #pause = byId<HTMLButtonElement>("tail-pause");
  #paused = false;
  #missed = 0;
  #dropped = 0;

  constructor(onFilter: (f: TailFilter) => void) {
    const form = byId<HTMLFormElement>("tail-filter");
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.clear();
      onFilter(this.filter());
    });
    this.#pause.addEventListener("click", () => {
      this.#paused = !this.#paused;
      this.#pause.setAttribute("aria-pressed", String(this.#paused));
      setText(this.#pause, this.#paused ? "Resume" : "Pause");
      if (!this.#paused) this.#missed = 0;
      this.#describe();
    });
    byId("tail-clear").addEventListener("click", () => this.clear());
    this.#describe();
  }

  /** The form's filter. */
  filter(): TailFilter {
    const value = (id: string) => byId<HTMLInputElement | HTMLSelectElement>(id).value.trim();
    const user = value("tail-user");
    const channel = value("tail-channel");
    const type = value("tail-type") as TailFilter["type"] | "";
    return {
      ...(user !== "" ? { user } : {}),
      ...(channel !== "" ? { channel } : {}),
      ...(type !== "" && type !== undefined ? { type } : {}),
    };
  }

  add(batch: EventBatch): void {
    this.#dropped += batch.dropped;
    if (this.#paused) {
      this.#missed += batch.events.length;
    } else if (batch.events.length > 0) {
      const now = Date.now();
      const items = batch.events.map((e) => eventItem(e, now)).reverse();
      this.#list.prepend(...items);
      while (this.#list.children.length > KEEP) this.#list.lastElementChild?.remove();
    }
    this.#describe();
  }

  clear(): void {
    this.#list.replaceChildren();
    this.#missed = 0;
    this.#dropped = 0;
    this.#describe();
  }

  #describe(): void {
    const parts: string[] = [];
    if (this.#paused) parts.push(`Paused; ${this.#missed} events since.`);
    if (this.#dropped > 0) parts.push(`${this.#dropped} events left out (more than the page shows at once).`);
    if (this.#list.children.length === 0 && !this.#paused) parts.push("Waiting for events…");
    setText(this.#state, parts.join(" "));
  }
}
