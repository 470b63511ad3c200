/**
 * The detail panel: one channel or one user, chosen by the address's hash (`#channel=<id>`,
 * `#user=<id>`) so that views can be linked and the browser's back button works. It refreshes
 * every few seconds while shown.
 */
import { ApiError, get } from "./api.js";
import { renderChannel } from "./channel-view.js";
import { byId, h } from "./dom.js";
import { renderUser, WINDOWS } from "./user-view.js";
import { type ChannelView, paths, type UserView } from "./wire.js";

const REFRESH_MS = 5000;

export type Route = { kind: "user" | "channel"; id: string } | undefined;

export function routeOf(hash: string): Route {
  const m = /^#(user|channel)=(.*)$/.exec(hash);
  if (m === null) return undefined;
  try {
    return { kind: m[1] as "user" | "channel", id: decodeURIComponent(m[2] as string) };
  } catch {
    return undefined;
  }
}

export class DetailPanel {
  readonly #el = byId("detail");
  #route: Route;
  #timer: number | undefined;
  #windowMs = WINDOWS[0]?.ms ?? 3_600_000;
  #seq = 0;
  readonly #onError: (err: unknown) => void;

  /** `onError`: what to do with a failure that is not the API's answer (a 401, the network). */
  constructor(onError: (err: unknown) => void) {
    this.#onError = onError;
    const form = byId<HTMLFormElement>("lookup");
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const kind = byId<HTMLSelectElement>("lookup-kind").value;
      const id = byId<HTMLInputElement>("lookup-id").value;
      if (id !== "") location.hash = `${kind}=${encodeURIComponent(id)}`;
    });
    addEventListener("hashchange", () => this.show(routeOf(location.hash)));
  }

  show(route: Route): void {
    this.#route = route;
    if (route !== undefined) {
      byId<HTMLSelectElement>("lookup-kind").value = route.kind;
      byId<HTMLInputElement>("lookup-id").value = route.id;
    }
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (route === undefined) {
      this.#el.replaceChildren(
        h(
          "p",
          { class: "muted" },
          "Choose a channel or a user (the links in the tables and the events open them).",
        ),
      );
      return;
    }
    this.#el.replaceChildren(h("p", { class: "muted" }, `Loading ${route.kind} ${route.id}…`));
    void this.#load(true);
    this.#timer = window.setInterval(() => void this.#load(false), REFRESH_MS);
  }

  async #load(first: boolean): Promise<void> {
    const route = this.#route;
    if (route === undefined) return;
    const seq = ++this.#seq;
    try {
      let view: HTMLElement;
      if (route.kind === "channel") {
        view = renderChannel(await get<ChannelView>(paths.channel, { channel: route.id }));
      } else {
        const since = String(Date.now() - this.#windowMs);
        const data = await get<UserView>(paths.user, { user: route.id, since_ms: since });
        view = renderUser(data, this.#windowMs, (ms) => {
          this.#windowMs = ms;
          void this.#load(true);
        });
      }
      if (seq !== this.#seq) return;
      // Keep the focus where it was when the view is redrawn in place.
      const focused = document.activeElement;
      const within = focused !== null && this.#el.contains(focused) ? focused.textContent : null;
      this.#el.replaceChildren(view);
      if (within !== null) {
        for (const b of Array.from(this.#el.querySelectorAll<HTMLElement>("a, button"))) {
          if (b.textContent === within) {
            b.focus();
            break;
          }
        }
      }
      if (first) this.#el.dataset.loaded = `${route.kind}:${route.id}`;
    } catch (err) {
      if (seq !== this.#seq) return;
      if (err instanceof ApiError) {
        this.#el.replaceChildren(h("p", { class: "error", attrs: { role: "alert" } }, err.message));
      } else {
        this.#onError(err);
      }
    }
  }
}
