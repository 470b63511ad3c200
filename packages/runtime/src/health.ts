/**
 * What `GET /health` answers (CONTRACT.md §9): healthy when the process is connected to NATS,
 * its app has started and the app itself has no complaint (its `health()`); otherwise the
 * reason. The NATS connection state comes from the connection's status events.
 */
import type { NatsConnection } from "@nats-io/nats-core";

/** undefined when healthy, else why not. */
export type HealthReason = string | undefined;

export class Health {
  #nc: NatsConnection | undefined;
  #connected = false;
  #app: (() => HealthReason) | undefined;
  #stopping = false;

  /** Follows `nc`: healthy while it is connected (a reconnect makes it healthy again). */
  watch(nc: NatsConnection): void {
    this.#nc = nc;
    this.#connected = true;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect" || s.type === "staleConnection") this.#connected = false;
        else if (s.type === "reconnect") this.#connected = true;
      }
    })();
  }

  /** The app has started; `check` adds its own conditions. */
  started(check: () => HealthReason = () => undefined): void {
    this.#app = check;
  }

  stopping(): void {
    this.#stopping = true;
  }

  reason(): HealthReason {
    if (this.#stopping) return "stopping";
    if (this.#nc === undefined) return "not connected to NATS yet";
    if (!this.#connected || this.#nc.isClosed()) return "not connected to NATS";
    if (this.#app === undefined) return "starting";
    return this.#app();
  }
}
