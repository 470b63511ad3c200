/**
 * A watchdog for a reader that may go silent: on nats-server 2.9 a consumer can be lost with
 * the cluster node it lived on while its client hears nothing. Every `intervalMs` it asks how
 * far the reader is behind and how much it has received so far; after `quietChecks` checks in
 * a row that found it behind, not busy, and with nothing received since the check before, it
 * calls `onStall` (which starts the reader again).
 */
import type { Logger } from "pino";

export interface WatchdogProbe {
  /** Messages are waiting for the reader (its source has more than it has taken). */
  readonly behind: boolean;
  /** A counter of what the reader has received; it moves while the reader is alive. */
  readonly received: number;
  /** The reader is waiting on something else of its own (it cannot receive meanwhile). */
  readonly busy?: boolean;
}

export interface WatchdogOptions {
  readonly intervalMs: number;
  /** Quiet checks in a row that count as a stall (default 2). */
  readonly quietChecks?: number;
  readonly probe: () => Promise<WatchdogProbe>;
  readonly onStall: () => Promise<void>;
  readonly log: Logger;
}

export class Watchdog {
  readonly #opts: WatchdogOptions;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> = Promise.resolve();
  #busy = false;
  #last = -1;
  #quiet = 0;
  #stopped = false;

  constructor(opts: WatchdogOptions) {
    this.#opts = opts;
  }

  start(): this {
    this.#timer = setInterval(() => {
      if (!this.#busy) this.#checking = this.#check();
    }, this.#opts.intervalMs);
    this.#timer.unref();
    return this;
  }

  /** Stops checking; resolves once a check (or a restart it began) has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#checking;
  }

  async #check(): Promise<void> {
    this.#busy = true;
    try {
      const p = await this.#opts.probe();
      const quiet = p.behind && p.busy !== true && p.received === this.#last;
      this.#quiet = quiet ? this.#quiet + 1 : 0;
      this.#last = p.received;
      if (this.#quiet < (this.#opts.quietChecks ?? 2) || this.#stopped) return;
      this.#quiet = 0;
      await this.#opts.onStall();
    } catch (err) {
      if (!this.#stopped) this.#opts.log.debug({ err }, "watchdog check failed");
    } finally {
      this.#busy = false;
    }
  }
}
