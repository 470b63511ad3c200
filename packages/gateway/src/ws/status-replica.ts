/**
 * One watched user's status as a gateway's WebSocket watchers see it (pure), kept by the same two
 * feeds as a channel's replica (replica.ts): the user's live status events, and the view's
 * status document where the live feed has not brought the change.
 */
import type { StatusEvent, UserStatus } from "@herald/protocol";

const same = (a: UserStatus, b: UserStatus): boolean =>
  a.status === b.status && JSON.stringify(a.manual) === JSON.stringify(b.manual);

export class StatusReplica {
  #state: UserStatus;
  #atMs: number;
  #fromView = true;

  constructor(initial: UserStatus, atMs: number) {
    this.#state = initial;
    this.#atMs = atMs;
  }

  get current(): UserStatus {
    return this.#state;
  }

  /** Whether the last change came from a live event (the view may not show it yet). */
  get fromLive(): boolean {
    return !this.#fromView;
  }

  live(ev: StatusEvent): StatusEvent | undefined {
    if (this.#fromView && this.#atMs >= ev.at_ms) return undefined;
    const { type: _, prev: __, at_ms, ...status } = ev;
    this.#state = status;
    this.#atMs = at_ms;
    this.#fromView = false;
    return ev;
  }

  /** What the view shows now (as others see it), last changed at `atMs`. */
  view(shown: UserStatus, atMs: number): StatusEvent | undefined {
    if (atMs <= this.#atMs) return undefined;
    const prev = this.#state;
    this.#atMs = atMs;
    this.#fromView = true;
    this.#state = shown;
    if (same(prev, shown)) return undefined;
    return { type: "status", ...shown, prev: prev.status, at_ms: atMs };
  }
}
