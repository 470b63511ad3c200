/**
 * Verdicts of the owner of a user's partition on the commands this gateway asked about. A
 * command that can be refused by the state it meets (`update` of a channel not joined: 409) is
 * appended with a reply token `<gateway>.<n>`; presence-actor publishes its verdict to
 * `herald.verdict.<gateway>` when it applies the command, and the request is answered from it.
 * So the decision is made where the state lives, whichever gateway took the join and however
 * far the projections lag. No verdict within `timeoutMs` (the partition has no owner for that
 * long), or the connection to NATS re-established meanwhile (a verdict may have been lost),
 * answers 503; the command stays stored and is applied when an owner comes.
 */
import { decodeVerdict, internalSubjects, type Verdict } from "@herald/protocol";
import type { Logger } from "@herald/runtime";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { VerdictLostError, VerdictTimeoutError } from "./errors.js";

/** What the dispatcher needs of verdicts (a port, so its unit tests can stand in for NATS). */
export interface Verdicts {
  /** A reply token for one command, and its verdict when it comes. */
  expect(): { readonly reply: string; readonly verdict: Promise<Verdict>; cancel(): void };
}

interface Waiting {
  resolve(v: Verdict): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class VerdictInbox implements Verdicts {
  readonly #waiting = new Map<number, Waiting>();
  readonly #sub: Subscription;
  #next = 0;

  constructor(
    nc: NatsConnection,
    private readonly gateway: string,
    private readonly timeoutMs: number,
    log: Logger,
  ) {
    this.#sub = nc.subscribe(internalSubjects.verdicts(gateway), {
      callback: (err, m) => {
        if (err !== null) {
          log.error({ err }, "verdict subscription failed");
          return;
        }
        let verdict: Verdict;
        try {
          verdict = decodeVerdict(m.data);
        } catch (e) {
          log.warn({ err: e }, "ignoring an unreadable verdict");
          return;
        }
        const w = this.#waiting.get(verdict.id);
        if (w === undefined) return; // answered already (a replay), or given up on
        this.#waiting.delete(verdict.id);
        clearTimeout(w.timer);
        w.resolve(verdict);
      },
    });
    // A verdict published while the connection was down is lost: whoever waits is answered 503
    // at once (the command is stored), rather than when the wait times out.
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "reconnect") this.#failAll(() => new VerdictLostError());
      }
    })();
  }

  #failAll(error: () => Error): void {
    for (const [id, w] of this.#waiting) {
      clearTimeout(w.timer);
      w.reject(error());
      this.#waiting.delete(id);
    }
  }

  /** Verdicts being waited for. */
  get waiting(): number {
    return this.#waiting.size;
  }

  expect(): { reply: string; verdict: Promise<Verdict>; cancel(): void } {
    const id = this.#next++;
    const verdict = new Promise<Verdict>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new VerdictTimeoutError(this.timeoutMs));
      }, this.timeoutMs);
      this.#waiting.set(id, { resolve, reject, timer });
    });
    // The caller may fail before it awaits (the append failed): never an unhandled rejection.
    verdict.catch(() => {});
    const cancel = () => {
      const w = this.#waiting.get(id);
      if (w === undefined) return;
      clearTimeout(w.timer);
      this.#waiting.delete(id);
    };
    return { reply: `${this.gateway}.${id}`, verdict, cancel };
  }

  /** Stops listening; whoever still waits is answered 503. */
  close(): void {
    this.#sub.unsubscribe();
    this.#failAll(() => new VerdictLostError());
  }
}
