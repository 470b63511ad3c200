/**
 * Load generator of `http`: the same API requests over NATS request-reply and over HTTP
 * (`POST /api/<method>`, keep-alive), a fixed number in flight (closed loop), for a warm-up and
 * a window. Each completed request of the window is timed; the CPU time of this process and of
 * the given other processes (Linux /proc) over the window is measured too, so the bench can say
 * what a request costs each process on either path.
 */
import { Agent, request } from "node:http";
import { subjects } from "@herald/protocol";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { serve } from "../lib/ipc.js";
import { cpuSeconds } from "../lib/procfs.js";
import { heartbeatBodies, userId } from "../lib/users.js";

export type Transport = "nats" | "http";

interface Setup {
  readonly natsUrl: string;
  /** The gateway's HTTP listener, `http://host:port`. */
  readonly httpUrl: string;
  readonly apiKey?: string;
  readonly method: "get_user_status" | "heartbeat";
  readonly prefix: string;
  /** Users 0..users-1 exist (live). */
  readonly users: number;
  /** Users (get_user_status) or heartbeats per request. */
  readonly batch: number;
  readonly ttlMs: number;
  readonly concurrency: number;
}

export interface RunResult {
  readonly transport: Transport;
  /** Requests answered with a result during the window. */
  readonly requests: number;
  /** Requests answered with an error, not answered, or failed at the transport (whole run). */
  readonly errors: number;
  /** Requests answered in the whole run (warm-up included), results only. */
  readonly answered: number;
  readonly seconds: number;
  /** Latencies of the window's requests (ms). */
  readonly samples: number[];
  /** CPU seconds (user + system) over the window, by process name (`client` is this one). */
  readonly cpu: Record<string, number>;
  /** First error seen, for the report. */
  readonly firstError?: string;
}

let nc: NatsConnection | undefined;
let setup: Setup | undefined;
let bodies: Buffer[] = [];
let agent: Agent | undefined;

function cpuNow(pids: Record<string, number>): Record<string, number> {
  const own = process.cpuUsage();
  const out: Record<string, number> = { client: (own.user + own.system) / 1e6 };
  for (const [name, pid] of Object.entries(pids)) out[name] = cpuSeconds(pid);
  return out;
}

function makeBodies(s: Setup): Buffer[] {
  if (s.method === "heartbeat") {
    return heartbeatBodies(s.prefix, s.users, s.batch, s.ttlMs).map((b) => Buffer.from(b));
  }
  return Array.from({ length: 64 }, () => {
    const users = Array.from({ length: s.batch }, () =>
      userId(s.prefix, Math.floor(Math.random() * s.users)),
    );
    return Buffer.from(JSON.stringify({ users }));
  });
}

const RESULT = Buffer.from('{"result"');

/** One request over NATS; resolves with the reply's error (undefined: a result). */
async function viaNats(s: Setup, body: Buffer): Promise<string | undefined> {
  const m = await (nc as NatsConnection).request(subjects.method(s.method), body, { timeout: 10_000 });
  return Buffer.from(m.data.buffer, m.data.byteOffset, RESULT.length).equals(RESULT)
    ? undefined
    : Buffer.from(m.data).toString("utf8").slice(0, 300);
}

/** One request over HTTP (keep-alive agent); resolves with the reply's error (undefined: a result). */
function viaHttp(s: Setup, url: URL, body: Buffer): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {
      "content-type": "application/json",
      "content-length": body.length,
    };
    if (s.apiKey !== undefined) headers["x-api-key"] = s.apiKey;
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: `/api/${s.method}`,
        method: "POST",
        headers,
        agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const data = Buffer.concat(chunks);
          if (res.statusCode === 200 && data.subarray(0, RESULT.length).equals(RESULT)) resolve(undefined);
          else resolve(`HTTP ${res.statusCode}: ${data.toString("utf8").slice(0, 300)}`);
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error("no answer within 10 s")));
    req.end(body);
  });
}

const handlers = {
  async setup(p: Setup) {
    setup = p;
    nc ??= await connect({ servers: p.natsUrl, name: "bench-http-load" });
    agent?.destroy();
    agent = new Agent({ keepAlive: true, maxSockets: p.concurrency });
    bodies = makeBodies(p);
    return { bodies: bodies.length, bytes: bodies[0]?.length ?? 0 };
  },

  /** `concurrency` requests in flight over `transport`: `warmupMs` untimed, then `windowMs` timed. */
  async run(p: {
    transport: Transport;
    warmupMs: number;
    windowMs: number;
    pids: Record<string, number>;
  }): Promise<RunResult> {
    const s = setup;
    if (s === undefined) throw new Error("setup first");
    const url = new URL(s.httpUrl);
    const one = (body: Buffer) => (p.transport === "nats" ? viaNats(s, body) : viaHttp(s, url, body));
    // The window opens on a timer: from then on, requests that start are timed and counted.
    let windowStart = Number.POSITIVE_INFINITY;
    let cpuStart: Record<string, number> = {};
    const end = performance.now() + p.warmupMs + p.windowMs;
    const opened = setTimeout(() => {
      cpuStart = cpuNow(p.pids);
      windowStart = performance.now();
    }, p.warmupMs);
    const samples: number[] = [];
    let errors = 0;
    let answered = 0;
    let firstError: string | undefined;
    let next = Math.floor(Math.random() * bodies.length);
    const worker = async () => {
      for (;;) {
        const started = performance.now();
        if (started >= end) return;
        const body = bodies[next] as Buffer;
        next = (next + 1) % bodies.length;
        let error: string | undefined;
        try {
          error = await one(body);
        } catch (err) {
          error = (err as Error).message;
        }
        if (error === undefined) {
          answered++;
          if (started >= windowStart) samples.push(performance.now() - started);
        } else {
          errors++;
          firstError ??= error;
        }
      }
    };
    await Promise.all(Array.from({ length: s.concurrency }, worker));
    clearTimeout(opened);
    const cpuEnd = cpuNow(p.pids);
    const seconds = (performance.now() - windowStart) / 1000;
    const cpu: Record<string, number> = {};
    for (const [k, v] of Object.entries(cpuEnd)) cpu[k] = v - (cpuStart[k] ?? Number.NaN);
    return {
      transport: p.transport,
      requests: samples.length,
      errors,
      answered,
      seconds,
      samples,
      cpu,
      ...(firstError !== undefined ? { firstError } : {}),
    };
  },
};

serve(handlers);
export type HttpLoadApi = typeof handlers;
