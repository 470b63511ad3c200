/**
 * Publishes many messages to JetStream streams and waits for every acknowledgement, several
 * times cheaper per message than `js.publish` (which builds a request, a timer and a promise
 * for each): all replies come to one wildcard inbox subscription, each message gets a token,
 * and a group has one promise and one timer. Messages sent on one connection are stored in the
 * order sent.
 *
 * A group resolves when every message is acknowledged (stored, or dropped by the stream as a
 * duplicate of its `Nats-Msg-Id`), and rejects at the first error reply, "no responders" (no
 * stream takes the subject, or it has no leader), after `timeoutMs`, or at once when the
 * connection is re-established (what was written to the old one may be lost, and its
 * acknowledgements with it). A rejected group may be partly stored: send it again with the
 * same ids.
 */
import { createInbox, type Msg, type NatsConnection, headers as natsHeaders } from "@nats-io/nats-core";
import { PublishError } from "./errors.js";

export interface Publication {
  readonly subject: string;
  readonly data: Uint8Array;
  /** `Nats-Msg-Id`: the stream drops a message with an id it stored within its window. */
  readonly msgId?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

interface Group {
  left: number;
  resolve(): void;
  reject(err: Error): void;
  /** The token of the first message; the others follow it. */
  readonly first: number;
  readonly messages: readonly Publication[];
  timer: NodeJS.Timeout;
}

const MSG_ID = "Nats-Msg-Id";

export class StreamPublisher {
  /** On the connection's own inbox prefix (a user's own `_INBOX_<user>`: nobody else sees it). */
  readonly #prefix: string;
  /** Token of a message in flight → its group. */
  readonly #pending = new Map<number, Group>();
  #next = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 5000,
    /** The connection's inbox prefix (`inboxPrefixFor` its user), when it has one of its own. */
    inboxPrefix?: string,
  ) {
    this.#prefix = createInbox(inboxPrefix);
    this.#subscribe();
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type !== "reconnect") continue;
        const groups = new Set(this.#pending.values());
        for (const g of groups)
          this.#fail(g, new PublishError("reconnected to NATS; acknowledgements may be lost"));
      }
    })();
  }

  /**
   * The replies' subscription. If it fails (say, a permissions violation on the inbox), every
   * group in flight fails and it is made again.
   */
  #subscribe(): void {
    this.nc.subscribe(`${this.#prefix}.*`, {
      callback: (err, m) => {
        if (err === null) {
          this.#onReply(m);
          return;
        }
        for (const g of new Set(this.#pending.values()))
          this.#fail(g, new PublishError(`the reply subscription failed: ${err.message}`));
        if (!this.nc.isClosed()) this.#subscribe();
      },
    });
  }

  /** Messages awaiting their acknowledgement. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Publishes every message and resolves once all are acknowledged. */
  publishAll(messages: readonly Publication[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const group: Group = {
        left: messages.length,
        resolve,
        reject,
        first: this.#next,
        messages,
        timer: setTimeout(
          () => this.#fail(group, new PublishError(`no acknowledgement within ${this.timeoutMs} ms`)),
          this.timeoutMs,
        ),
      };
      try {
        for (const m of messages) {
          const token = this.#next++;
          this.#pending.set(token, group);
          let h: ReturnType<typeof natsHeaders> | undefined;
          if (m.msgId !== undefined || m.headers !== undefined) {
            h = natsHeaders();
            if (m.msgId !== undefined) h.set(MSG_ID, m.msgId);
            for (const [k, v] of Object.entries(m.headers ?? {})) h.set(k, v);
          }
          this.nc.publish(m.subject, m.data, { reply: `${this.#prefix}.${token}`, headers: h });
        }
      } catch (err) {
        this.#fail(group, err as Error);
      }
    });
  }

  #onReply(m: Msg): void {
    const token = Number(m.subject.slice(this.#prefix.length + 1));
    const group = this.#pending.get(token);
    if (group === undefined) return; // its group already failed
    this.#pending.delete(token);
    const problem = replyProblem(m);
    if (problem !== undefined) {
      const subject = group.messages[token - group.first]?.subject;
      this.#fail(group, new PublishError(`publishing to ${subject}: ${problem}`));
      return;
    }
    if (--group.left === 0) {
      clearTimeout(group.timer);
      group.resolve();
    }
  }

  #fail(group: Group, err: Error): void {
    clearTimeout(group.timer);
    for (let i = 0; i < group.messages.length; i++) this.#pending.delete(group.first + i);
    group.left = -1;
    group.reject(err);
  }
}

/** Why a reply is not an acknowledgement, or undefined when it is one. */
function replyProblem(m: Msg): string | undefined {
  if (m.headers?.hasError) {
    return m.headers.code === 503
      ? "no responders (no stream takes the subject, or it has no leader now)"
      : `${m.headers.code} ${m.headers.description}`;
  }
  if (m.data.length === 0) return "an empty reply";
  // An acknowledgement is {"stream":…,"seq":…}; an error is {"error":{"code":…,"description":…}}.
  const text = m.string();
  let reply: { error?: { code?: number; description?: string }; seq?: unknown };
  try {
    reply = JSON.parse(text) as typeof reply;
  } catch {
    return `an unreadable reply: ${text.slice(0, 200)}`;
  }
  if (reply.error !== undefined)
    return `${reply.error.code ?? "?"} ${reply.error.description ?? "stream error"}`;
  // Nothing but a stored message's sequence counts as an acknowledgement.
  return typeof reply.seq === "number" ? undefined : `not an acknowledgement: ${text.slice(0, 200)}`;
}
