/**
 * A canary user: one conn kept live by heartbeats, joined to one channel with data that holds
 * a `__proto__` key, and active now and then. While hostile input goes to Herald, it must stay
 * exactly right: `get_user_status` says online, `presence` of its channel shows its member with
 * its data (the `__proto__` key a key like any other), `is_present` says true.
 */

import { waitFor } from "@herald/testkit";
import type { NatsConnection } from "@nats-io/nats-core";

interface Reply {
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/** JSON with object keys sorted, own keys only (`__proto__` included): equal data, equal text. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export interface CanaryOptions {
  /** Distinguishes runs (part of the ids). */
  readonly tag: string;
  /** Heartbeat period; the conn's ttl is `ttlMs`. */
  readonly heartbeatMs: number;
  readonly ttlMs: number;
  /** Activity (update_user_status) period, so the canary never turns away. */
  readonly activityMs: number;
  /** How long each request may wait for its reply. */
  readonly timeoutMs: number;
}

export class Canary {
  readonly user: string;
  readonly conn: string;
  readonly channel: string;
  /** Its member data: `{"__proto__": {"polluted": true}, "name": "canary", …}` as JSON has it. */
  readonly data: Record<string, unknown>;
  readonly dataText: string;
  checks = 0;
  readonly failures: string[] = [];
  heartbeats = 0;
  #timers: NodeJS.Timeout[] = [];

  constructor(
    readonly nc: NatsConnection,
    readonly opts: CanaryOptions,
  ) {
    this.user = `canary ⚑ ${opts.tag}`;
    this.conn = "canary conn";
    this.channel = `canary room ⚑ ${opts.tag}`;
    this.dataText =
      '{"__proto__":{"polluted":true},"name":"canary","constructor":{"prototype":1},"n":[1,{"__proto__":null}]}';
    this.data = JSON.parse(this.dataText) as Record<string, unknown>;
  }

  /** Every id of the canary (inputs must not use them). */
  get ids(): string[] {
    return [this.user, this.conn, this.channel];
  }

  async #call(method: string, body: string): Promise<Record<string, unknown>> {
    let reply: Reply;
    try {
      reply = (
        await this.nc.request(`presence.api.${method}`, body, { timeout: this.opts.timeoutMs })
      ).json<Reply>();
    } catch (err) {
      throw new Error(
        `canary ${method}: no reply within ${this.opts.timeoutMs} ms (${(err as Error).message})`,
      );
    }
    if (reply.error !== undefined)
      throw new Error(`canary ${method}: ${reply.error.code} ${reply.error.message}`);
    return reply.result ?? {};
  }

  /** Connects, joins, and waits until a check passes; then heartbeats and activity go on by themselves. */
  async start(): Promise<void> {
    const { user, conn, channel } = this;
    await this.#call("heartbeat", JSON.stringify({ user, conn, ttl_ms: this.opts.ttlMs }));
    await this.#call(
      "join",
      `{"user":${JSON.stringify(user)},"conn":${JSON.stringify(conn)},"channel":${JSON.stringify(channel)},"data":${this.dataText}}`,
    );
    await waitFor(async () => (await this.problems()).length === 0, {
      what: "the canary to be online and in its channel",
      timeoutMs: 15_000,
    });
    const failed = (err: unknown) =>
      this.failures.push(`${new Date().toISOString()} ${(err as Error).message}`);
    this.#timers.push(
      setInterval(() => {
        this.heartbeats++;
        this.#call("heartbeat", JSON.stringify({ user, conn, ttl_ms: this.opts.ttlMs })).catch(failed);
      }, this.opts.heartbeatMs),
      setInterval(
        () => void this.#call("update_user_status", JSON.stringify({ users: [user] })).catch(failed),
        this.opts.activityMs,
      ),
    );
  }

  /** What is wrong with the canary now (empty: all right). */
  async problems(): Promise<string[]> {
    const { user, conn, channel } = this;
    const out: string[] = [];
    try {
      const [status, presence, present] = await Promise.all([
        this.#call("get_user_status", JSON.stringify({ users: [user] })),
        this.#call("presence", JSON.stringify({ channel })),
        this.#call("is_present", JSON.stringify({ channel, user })),
      ]);
      const s = (status.statuses as { status?: string }[] | undefined)?.[0];
      if (s?.status !== "online") out.push(`get_user_status says ${JSON.stringify(s)}, not online`);
      const members = (presence.members ?? []) as { user: string; conn: string; data: unknown }[];
      const mine = members.find((m) => m.user === user && m.conn === conn);
      if (mine === undefined)
        out.push(`presence of its channel has no canary member (${members.length} members)`);
      else if (canonical(mine.data) !== canonical(this.data)) {
        out.push(`its member data is ${canonical(mine.data)}, not ${canonical(this.data)}`);
      }
      if (present.present !== true) out.push(`is_present says ${JSON.stringify(present)}`);
    } catch (err) {
      out.push((err as Error).message);
    }
    return out;
  }

  /** Checks now; a problem is recorded (with the time) and returned. */
  async check(): Promise<string[]> {
    this.checks++;
    const problems = await this.problems();
    for (const p of problems) this.failures.push(`${new Date().toISOString()} check ${this.checks}: ${p}`);
    return problems;
  }

  stop(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
  }
}
