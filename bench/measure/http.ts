/**
 * `http`: the HTTP API (CONTRACT.md §7) against the same requests over NATS request-reply, in
 * the same run, on the same deployment: (a) `get_user_status` of 1,000 users per request and
 * (b) `heartbeat` with `{heartbeats: [1000]}` per request, each over NATS (`presence.api.<m>`)
 * and over HTTP (`POST /api/<m>` with `X-API-Key`, node:http with a keep-alive agent), the same
 * number of requests in flight on both (`--http-concurrency`, closed loop) from one helper
 * process (bench/procs/http-load.ts).
 *
 * Each (method, transport) runs twice, in the order NATS, HTTP, HTTP, NATS, so drift over the
 * run (a warming JIT, a busier machine) falls on both alike; between heartbeat runs the bench
 * waits until presence-actor has applied everything sent, so no run starts with a backlog. The
 * figures: requests/s and p50/p99 latency per transport, and the cost of an HTTP request over a
 * NATS one — NATS requests/s ÷ HTTP requests/s, the time a request takes at the same
 * concurrency — with the target ≤ 1.5×. The CPU time each process spent per request (gateway,
 * nats-server, presence-actor, status-projector, the client) is in the detail, to say where an
 * HTTP request costs more or less than a NATS one.
 */

import { waitFor } from "@herald/testkit";
import { HeraldStack } from "../lib/herald.js";
import { Child } from "../lib/ipc.js";
import { note } from "../lib/log.js";
import type { Options } from "../lib/options.js";
import type { Figure } from "../lib/results.js";
import { percentiles, round, sleep } from "../lib/stats.js";
import { LONG_TTL_MS } from "../lib/users.js";
import { drain } from "../lib/window.js";
import type { HttpLoadApi, RunResult, Transport } from "../procs/http-load.js";
import { PREFIX, preload } from "./throughput.js";

/** Users (get_user_status) or heartbeats per request. */
const BATCH = 1000;
/** The most an HTTP request may cost relative to a NATS one (the issue's target). */
const MAX_COST_RATIO = 1.5;
const API_KEY = "bench-http-api-key-0123456789";
const METHODS = ["get_user_status", "heartbeat"] as const;
type Method = (typeof METHODS)[number];
/** The runs of one method: each transport twice, mirrored. */
const ORDER: readonly Transport[] = ["nats", "http", "http", "nats"];

interface Combined {
  readonly requests: number;
  readonly seconds: number;
  readonly rate: number;
  readonly errors: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
  /** CPU microseconds per request, by process. */
  readonly cpuUsPerRequest: Record<string, number>;
  /** Commands per command-stream message the gateway appended, per run (heartbeats). */
  readonly commandsPerMessage?: readonly number[];
  readonly firstError?: string;
}

function combine(runs: readonly RunResult[], perBatch: readonly number[]): Combined {
  const requests = runs.reduce((n, r) => n + r.requests, 0);
  const seconds = runs.reduce((n, r) => n + r.seconds, 0);
  const errors = runs.reduce((n, r) => n + r.errors, 0);
  const p = percentiles(runs.flatMap((r) => r.samples));
  const cpu: Record<string, number> = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.cpu)) cpu[k] = (cpu[k] ?? 0) + v;
  const firstError = runs.find((r) => r.firstError !== undefined)?.firstError;
  return {
    requests,
    seconds: round(seconds, 2),
    rate: round(requests / seconds, 0),
    errors,
    p50: p.p50 === null ? null : round(p.p50, 2),
    p99: p.p99 === null ? null : round(p.p99, 2),
    max: p.max === null ? null : round(p.max, 2),
    cpuUsPerRequest: Object.fromEntries(
      Object.entries(cpu).map(([k, v]) => [k, requests > 0 ? round((v / requests) * 1e6, 0) : Number.NaN]),
    ),
    ...(perBatch.length > 0 ? { commandsPerMessage: perBatch } : {}),
    ...(firstError !== undefined ? { firstError } : {}),
  };
}

/** Commands and command-stream messages the gateway has appended so far. */
async function appended(stack: HeraldStack): Promise<{ commands: number; batches: number }> {
  const data = await stack.gatewayData();
  return { commands: Number(data.appended_commands ?? 0), batches: Number(data.appended_batches ?? 0) };
}

/**
 * Waits until the gateway's view holds every loaded user (status-projector has projected the
 * load and the gateway's KV watch has caught up), then a moment more: the first run must not
 * share the machine with the tail of the load.
 */
async function settle(stack: HeraldStack, users: number): Promise<void> {
  await waitFor(
    async () => {
      stack.checkAlive();
      const view = (await stack.gatewayData()).view as { users?: number } | undefined;
      return (view?.users ?? 0) >= users;
    },
    { timeoutMs: 300_000, intervalMs: 250, what: `the gateway's view to hold ${users} users` },
  );
  await sleep(2000);
}

const describe = (c: Combined) =>
  `${c.rate.toLocaleString("en")} requests/s, p50 ${c.p50} ms, p99 ${c.p99} ms` +
  `${c.errors > 0 ? `, ${c.errors} errors (${c.firstError})` : ""}`;

const cpuLine = (c: Combined) =>
  Object.entries(c.cpuUsPerRequest)
    .map(([k, v]) => `${k} ${v.toLocaleString("en")}`)
    .join(", ");

/** The figures of one method: requests/s (the verdict), p50 and p99, HTTP with NATS as baseline. */
function figuresOf(method: Method, nats: Combined, http: Combined, concurrency: number): Figure[] {
  const what = method === "get_user_status" ? "get_user_status ×1000 users" : "heartbeat ×1000 per request";
  const cost = http.rate > 0 ? nats.rate / http.rate : null;
  const gatewayCpu =
    (http.cpuUsPerRequest.gateway ?? Number.NaN) / (nats.cpuUsPerRequest.gateway ?? Number.NaN);
  const id = `http.${method}`;
  const baseline = `NATS request-reply, ${concurrency} in flight`;
  return [
    {
      id,
      name: `HTTP ${what}: requests/s, keep-alive, ${concurrency} in flight`,
      value: http.rate,
      unit: "requests/s",
      better: "higher",
      baselines: [{ name: baseline, value: nats.rate }],
      target: `cost ≤ ${MAX_COST_RATIO}× NATS (≥ NATS ÷ ${MAX_COST_RATIO})`,
      targetValue: round(nats.rate / MAX_COST_RATIO, 0),
      pass: cost === null ? null : cost <= MAX_COST_RATIO,
      detail: {
        batch: BATCH,
        concurrency,
        costRatio: cost === null ? null : round(cost, 3),
        gatewayCpuRatio: Number.isFinite(gatewayCpu) ? round(gatewayCpu, 3) : null,
        http,
        nats,
      },
    },
    {
      id: `${id}.p50`,
      name: `HTTP ${what}: latency p50`,
      value: http.p50,
      unit: "ms",
      better: "lower",
      baselines: [{ name: baseline, value: nats.p50 }],
    },
    {
      id: `${id}.p99`,
      name: `HTTP ${what}: latency p99`,
      value: http.p99,
      unit: "ms",
      better: "lower",
      baselines: [{ name: baseline, value: nats.p99 }],
    },
  ];
}

export async function measureHttp(opts: Options, out: Figure[]): Promise<void> {
  const label = "http";
  note(`${label}: starting Herald (1 gateway with HTTP_API_KEY, 1 presence-actor, 1 status-projector)`);
  const stack = await HeraldStack.start({
    label,
    gateways: 0,
    // The rate limits would measure themselves: far above what the bench sends, on both paths.
    env: { HERALD_CLIENT_RATE: "10000000", HERALD_USER_RATE: "1000000" },
  });
  let load: Child<HttpLoadApi> | undefined;
  try {
    // At info level the gateway logs the URL it listens on (then nothing per request).
    const gateway = stack.spawn("gateway", { LOG_LEVEL: "info", HTTP_API_KEY: API_KEY });
    const url = await gateway.httpUrl(60_000);
    await stack.waitQueries();
    await preload(stack, opts.hbUsers, `${label}: load`);
    await settle(stack, opts.hbUsers);
    load = await Child.spawn<HttpLoadApi>("http-load");
    const pids: Record<string, number> = {};
    const addPid = (name: string, pid: number | undefined) => {
      if (pid !== undefined) pids[name] = pid;
    };
    addPid("gateway", gateway.pid);
    addPid("nats-server", stack.server.pid);
    addPid("presence-actor", stack.running("presence-actor")[0]?.pid);
    addPid("status-projector", stack.running("status-projector")[0]?.pid);
    const warmupMs = opts.quick ? 1000 : 2000;
    const windowMs = Math.max(3000, opts.windowMs / 4);
    for (const method of METHODS) {
      await load.call("setup", {
        natsUrl: stack.server.url,
        httpUrl: url,
        apiKey: API_KEY,
        method,
        prefix: PREFIX,
        users: opts.hbUsers,
        batch: BATCH,
        ttlMs: LONG_TTL_MS,
        concurrency: opts.httpConcurrency,
      });
      const runs: Record<Transport, RunResult[]> = { nats: [], http: [] };
      const perBatchOf: Record<Transport, number[]> = { nats: [], http: [] };
      for (const transport of ORDER) {
        const base = method === "heartbeat" ? await stack.applied() : 0;
        const before = await appended(stack);
        const r = await load.call("run", { transport, warmupMs, windowMs, pids });
        stack.checkAlive();
        const after = await appended(stack);
        const batches = after.batches - before.batches;
        const perBatch = batches > 0 ? round((after.commands - before.commands) / batches, 1) : null;
        runs[transport].push(r);
        if (perBatch !== null) perBatchOf[transport].push(perBatch);
        note(
          `${label}: ${method} over ${transport}: ${Math.round(r.requests / r.seconds).toLocaleString("en")} requests/s` +
            `${perBatch !== null ? `, ${perBatch} commands per command-stream message` : ""}` +
            `${r.errors > 0 ? `, ${r.errors} errors (${r.firstError})` : ""}`,
        );
        // Every heartbeat answered is applied before the next run starts.
        if (method === "heartbeat") {
          await drain(async () => (await stack.applied()) - base, r.answered * BATCH);
        }
      }
      const nats = combine(runs.nats, perBatchOf.nats);
      const http = combine(runs.http, perBatchOf.http);
      const figures = figuresOf(method, nats, http, opts.httpConcurrency);
      out.push(...figures);
      const detail = figures[0]?.detail as { costRatio: number | null; gatewayCpuRatio: number | null };
      note(`${label}: ${method} ×${BATCH}, ${opts.httpConcurrency} in flight:`);
      note(`  NATS: ${describe(nats)}; CPU µs/request: ${cpuLine(nats)}`);
      note(`  HTTP: ${describe(http)}; CPU µs/request: ${cpuLine(http)}`);
      note(
        `  HTTP/NATS cost per request ×${detail.costRatio} (gateway CPU ×${detail.gatewayCpuRatio}): ` +
          `${detail.costRatio !== null && detail.costRatio <= MAX_COST_RATIO ? "within" : "OVER"} ${MAX_COST_RATIO}×`,
      );
    }
  } finally {
    await load?.stop();
    await stack.dispose();
  }
}
