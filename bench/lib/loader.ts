/**
 * Loads users fast by writing stamped command batches straight to the command stream, as the
 * gateway would after validating (minus the JSON parsing): one msgpack batch per partition,
 * a bounded number of JetStream publishes in flight. Then waits until presence-actor has
 * applied them all, with a progress line every few seconds and timeouts that grow with the
 * number of commands (loading new users is the slow path of presence-actor).
 */
import { type Command, encodeCommandBatch, internalSubjects, partitionOf } from "@herald/protocol";
import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { note } from "./log.js";
import { sleep } from "./stats.js";

export interface LoadOptions {
  /** For progress lines. */
  readonly label: string;
  /** Number of items (users); `commands(i, at)` gives item i's commands stamped `at`. */
  readonly count: number;
  readonly commands: (i: number, at: number) => readonly Command[];
  readonly partitions: number;
  /**
   * Progress so far: by default commands applied by presence-actor (all processes). A load of
   * new users better counts users: a partition that restarts counts its commands again from
   * its snapshot, while the number of users it holds stays exact.
   */
  readonly applied: () => Promise<number>;
  /** How much `applied` grows when everything is applied (default: the number of commands). */
  readonly expected?: number;
  /** What `applied` counts, for progress lines (default "commands"). */
  readonly unit?: string;
  /** Called while waiting, to fail early (a worker died). */
  readonly check?: () => void;
  /** Commands per stream message (default 20). */
  readonly batchCommands?: number;
  /** Fail when nothing was applied for this long (default 120 s). */
  readonly stallMs?: number;
  /** Overall limit on applying (default 120 s + 2 ms per command). */
  readonly timeoutMs?: number;
}

export interface LoadResult {
  readonly commands: number;
  /** From the first publish until the last command was applied. */
  readonly ms: number;
  readonly publishMs: number;
}

/** Publishes every command, then waits until all of them are applied. */
export async function loadThroughStream(nc: NatsConnection, opts: LoadOptions): Promise<LoadResult> {
  const base = await opts.applied();
  const t0 = Date.now();
  const commands = await publishAll(jetstream(nc), opts);
  const publishMs = Date.now() - t0;
  const expected = opts.expected ?? commands;
  await waitApplied(base + expected, expected, t0, opts);
  return { commands, ms: Date.now() - t0, publishMs };
}

/** Publishes the commands of every item in per-partition batches; returns how many. */
async function publishAll(js: JetStreamClient, opts: LoadOptions): Promise<number> {
  const maxBatch = opts.batchCommands ?? 20;
  const lanes: Command[][] = Array.from({ length: opts.partitions }, () => []);
  const inflight = new Set<Promise<unknown>>();
  let total = 0;
  const send = async (partition: number, cmds: Command[]) => {
    while (inflight.size >= 32) await Promise.race(inflight);
    const p = js.publish(internalSubjects.commands(partition), encodeCommandBatch(cmds), { timeout: 30_000 });
    inflight.add(p);
    void p.finally(() => inflight.delete(p)).catch(() => undefined);
  };
  for (let i = 0; i < opts.count; i++) {
    const at = Date.now();
    for (const cmd of opts.commands(i, at)) {
      const p = partitionOf(cmd.user, opts.partitions);
      const lane = lanes[p] as Command[];
      lane.push(cmd);
      total++;
      if (lane.length >= maxBatch) {
        lanes[p] = [];
        await send(p, lane);
      }
    }
  }
  for (const [p, lane] of lanes.entries()) if (lane.length > 0) await send(p, lane);
  await Promise.all(inflight);
  return total;
}

/** Polls until `target` commands are applied, printing progress every 5 s. */
export async function waitApplied(
  target: number,
  total: number,
  t0: number,
  opts: Pick<LoadOptions, "label" | "applied" | "check" | "stallMs" | "timeoutMs" | "unit">,
): Promise<void> {
  const stallMs = opts.stallMs ?? 120_000;
  const deadline = t0 + (opts.timeoutMs ?? 120_000 + 2 * total);
  let last = -1;
  let lastMoved = Date.now();
  let lastPrint = Date.now();
  for (;;) {
    opts.check?.();
    const applied = await opts.applied();
    const now = Date.now();
    if (applied >= target) return;
    if (applied !== last) {
      last = applied;
      lastMoved = now;
    }
    const done = total - (target - applied);
    if (now - lastPrint >= 5000) {
      lastPrint = now;
      const rate = done / ((now - t0) / 1000);
      const eta = rate > 0 ? Math.round((total - done) / rate) : Number.NaN;
      note(
        `${opts.label}: ${Math.max(0, done).toLocaleString("en")}/${total.toLocaleString("en")} ${opts.unit ?? "commands"} applied ` +
          `(${Math.round((100 * done) / total)} %, ${Math.round(rate).toLocaleString("en")}/s, ETA ${eta} s)`,
      );
    }
    if (now - lastMoved > stallMs) throw new Error(`${opts.label}: nothing applied for ${stallMs / 1000} s`);
    if (now > deadline)
      throw new Error(`${opts.label}: not applied within ${Math.round((deadline - t0) / 1000)} s`);
    await sleep(500);
  }
}
