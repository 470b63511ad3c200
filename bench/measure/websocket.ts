/**
 * `websocket`: the gateway's WebSocket edge (CONTRACT.md §8) under many clients. One gateway
 * (HS256 client tokens), one presence-actor, one status-projector; `--ws-clients` clients
 * (default 10,000) opened from several helper processes (bench/procs/ws-clients.ts, at most
 * 2,500 sockets each, whole channels each), every client a distinct user and conn that connects
 * with a token and joins one channel of `--ws-channel` members (default 100, under
 * CHANNEL_EVENTS_MAX_MEMBERS so pushes are single events); `--ws-subscribers` of each channel's
 * members (default 10) also subscribe to it. Every member subscribing (`--ws-subscribers 100`:
 * 100 pushes per join or leave, 20,000 pushes/s at the default churn) is too much for the two
 * cores of the development machine when they also run the clients: receiving the pushes costs
 * the helpers about as much CPU as sending them costs the gateway, the machine runs at 170–195 %
 * of its 200 %, and the latency measured is mostly waiting for a core (bench/RESULTS.md).
 *
 * Figures:
 * - RSS per socket: the gateway's VmRSS after a GC with every client connected, joined and
 *   subscribed, minus the same before the first socket, over the sockets (target ≤ 20 KiB). Its
 *   heap, external and array-buffer memory per socket are in the detail, and so is the heap
 *   each socket holds by itself: the clients then drop their sockets (1006, so their conns and
 *   members stay in the gateway's view until their ttl) and the heap is measured again.
 * - join → push latency under churn: clients leave and re-join their channel at `--ws-rate`
 *   operations per second (default 200: 100 joins and 100 leaves), each join pushed to its
 *   channel's subscribers; p50/p99 from sending `join` to the `join` push at an observer of the
 *   channel in the same process (one clock), target p99 ≤ 50 ms. Every subscriber's delivery,
 *   the join's reply (the owner's verdict) and leave → push are in the detail.
 * - CPU of the gateway (and of the other processes) during the churn window, and idle with
 *   every socket open (heartbeats of the conns, pings).
 */
import { loadavg } from "node:os";
import { internalSubjects, SERVICE_NAME } from "@herald/protocol";
import { waitFor } from "@herald/testkit";
import { HeraldStack, type WorkerStats } from "../lib/herald.js";
import { Child } from "../lib/ipc.js";
import { note } from "../lib/log.js";
import type { Options } from "../lib/options.js";
import { LoopProbe, longStalls, overlapsStall, type ProbeResult } from "../lib/probe.js";
import { cpuSeconds, ensureFdLimit, machineBusySeconds, openFds, rssOf } from "../lib/procfs.js";
import type { Figure } from "../lib/results.js";
import { type Percentiles, percentiles, round, sleep } from "../lib/stats.js";
import type { ChurnResult, OpenResult, WsClientsApi } from "../procs/ws-clients.js";

/** HS256 secret of the client tokens (the gateway wants at least 32 bytes). */
const SECRET = "bench-websocket-client-token-secret-0123456789";
const PREFIX = "ws-";
/** Sockets per helper process at most (and at least two helpers, at most eight). */
const PER_PROCESS = 2500;
/** File descriptors beyond the sockets a process may need (NATS, IPC, node's own, files). */
const FD_MARGIN = 1024;
/** Targets of the issue. */
const MAX_RSS_KIB = 20;
const MAX_P99_MS = 50;
/** A probe request (see lib/probe.ts) slower than this is a stall of the worker's event loop. */
const STALL_MS = 25;
/** CPU (% of a core) other processes may use during the churn before the run is called contended. */
const MAX_OTHERS_PERCENT = 15;
/** Stalls listed one by one (to see when they come: periodic work, GC). */
const LONG_STALL_MS = 100;
/** Clients of one helper process being opened at once. */
const OPEN_CONCURRENCY = 50;

const KiB = 1024;
const r2 = (x: number | null) => (x === null ? null : round(x, 2));
const pct = (p: Percentiles) => ({ ...p, p50: r2(p.p50), p99: r2(p.p99), max: r2(p.max) });

interface Sample {
  readonly rss: number;
  readonly rssAnon: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly fds: number;
}

/** The gateway's memory after a GC (twice, a second apart, so the heap has settled). */
async function sampleMemory(stack: HeraldStack, pid: number): Promise<Sample> {
  const ask = async (): Promise<WorkerStats> => {
    const [s] = await stack.stats("gateway", { gc: true, expected: 1, timeoutMs: 10_000 });
    if (s === undefined) {
      stack.checkAlive();
      throw new Error("the gateway did not answer stats");
    }
    return s;
  };
  await ask();
  await sleep(1000);
  const s = await ask();
  const rss = rssOf(pid);
  return {
    rss: rss.rss,
    rssAnon: rss.anon,
    heapUsed: s.memory.heapUsed,
    heapTotal: s.memory.heapTotal,
    external: s.memory.external,
    arrayBuffers: s.memory.arrayBuffers,
    fds: openFds(pid),
  };
}

/**
 * CPU seconds so far of each named process (`clients`: the helpers together), and of the
 * machine (`machine`: every process on it, this run's and any other's).
 */
function cpuNow(pids: Record<string, number>, clients: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) out[name] = cpuSeconds(pid);
  out.clients = clients.reduce((n, pid) => n + cpuSeconds(pid), 0);
  out.machine = machineBusySeconds();
  return out;
}

/**
 * Percent of one core each process used between two readings `seconds` apart; `others` is the
 * machine's busy time not spent by this run's processes (other work sharing the cores).
 */
function cpuPercent(
  a: Record<string, number>,
  b: Record<string, number>,
  seconds: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) out[k] = round(((v - (a[k] ?? Number.NaN)) / seconds) * 100, 1);
  let ours = 0;
  for (const [k, v] of Object.entries(out)) if (k !== "machine") ours += v;
  out.others = round(Math.max(0, (out.machine ?? 0) - ours), 1);
  return out;
}

const cpuLine = (cpu: Record<string, number>) =>
  Object.entries(cpu)
    .map(([k, v]) => `${k} ${v} %`)
    .join(", ");

const perSocket = (after: number, before: number, sockets: number) =>
  sockets > 0 ? round((after - before) / sockets, 0) : null;

export async function measureWebSocket(opts: Options, out: Figure[]): Promise<void> {
  const label = "websocket";
  const size = opts.wsChannel;
  const channelCount = Math.max(1, Math.round(opts.wsClients / size));
  const clients = channelCount * size;
  const subscribers = Math.min(size, opts.wsSubscribers);
  const procs = Math.min(channelCount, Math.max(2, Math.min(8, Math.ceil(clients / PER_PROCESS))));
  if (clients !== opts.wsClients) note(`${label}: ${clients} clients (whole channels of ${size})`);
  note(
    `${label}: starting Herald (1 gateway with CLIENT_TOKEN_HMAC_SECRET, 1 presence-actor, 1 status-projector); ` +
      `${clients.toLocaleString("en")} clients in ${channelCount} channels of ${size}, ${subscribers} subscribers each, from ${procs} processes`,
  );
  const stack = await HeraldStack.start({ label, gateways: 0 });
  const helpers: Child<WsClientsApi>[] = [];
  try {
    // At info level the gateway logs the URL it listens on (and nothing per socket).
    const gateway = stack.spawn("gateway", { LOG_LEVEL: "info", CLIENT_TOKEN_HMAC_SECRET: SECRET });
    const httpUrl = await gateway.httpUrl(60_000);
    await stack.waitQueries();
    const gatewayPid = gateway.pid as number;
    const limits: Record<string, { soft: number; raised: boolean }> = {};
    limits.gateway = ensureFdLimit(gatewayPid, clients + FD_MARGIN, "the gateway");
    // Whole channels per process, dealt in turn: a joiner and its channel's subscribers share one.
    const channelsOf = Array.from({ length: procs }, (_, j) =>
      Array.from({ length: channelCount }, (_, c) => c).filter((c) => c % procs === j),
    );
    helpers.push(...(await Promise.all(channelsOf.map(() => Child.spawn<WsClientsApi>("ws-clients")))));
    for (const [j, h] of helpers.entries()) {
      const sockets = (channelsOf[j] as number[]).length * size;
      limits[`clients-${j}`] = ensureFdLimit(h.pid as number, sockets + FD_MARGIN, `helper ws-clients ${j}`);
    }
    const raised = Object.entries(limits).filter(([, l]) => l.raised);
    note(
      `${label}: open-file limits: gateway ${limits.gateway.soft}, helpers ${helpers.map((_, j) => limits[`clients-${j}`]?.soft).join("/")}` +
        `${raised.length > 0 ? ` (raised with prlimit: ${raised.map(([k]) => k).join(", ")})` : ""}`,
    );

    await sleep(2000);
    const before = await sampleMemory(stack, gatewayPid);
    note(
      `${label}: before any socket: gateway RSS ${(before.rss / 2 ** 20).toFixed(1)} MiB, heap ${(before.heapUsed / 2 ** 20).toFixed(1)} MiB`,
    );

    // ---- Open every client ----
    const pids: Record<string, number> = { gateway: gatewayPid };
    if (stack.server.pid !== undefined) pids["nats-server"] = stack.server.pid;
    const actor = stack.running("presence-actor")[0]?.pid;
    if (actor !== undefined) pids["presence-actor"] = actor;
    const projector = stack.running("status-projector")[0]?.pid;
    if (projector !== undefined) pids["status-projector"] = projector;
    const helperPids = helpers.map((h) => h.pid as number);
    const wsUrl = `${httpUrl.replace(/^http/, "ws")}/connection/websocket`;
    const cpuOpen0 = cpuNow(pids, helperPids);
    const t0 = performance.now();
    let opened: OpenResult[] | undefined;
    const opening = Promise.all(
      helpers.map((h, j) =>
        h.call("open", {
          url: wsUrl,
          secret: SECRET,
          prefix: PREFIX,
          channels: channelsOf[j] as number[],
          channelSize: size,
          subscribers,
          concurrency: OPEN_CONCURRENCY,
        }),
      ),
    ).then((r) => {
      opened = r;
    });
    while (opened === undefined) {
      await Promise.race([opening, sleep(5000)]);
      stack.checkAlive();
      if (opened !== undefined) break;
      const progress = await Promise.all(helpers.map((h) => h.call("progress")));
      const done = progress.reduce((n, p) => n + p.opened, 0);
      const failed = progress.reduce((n, p) => n + p.failed, 0);
      note(
        `${label}: ${done.toLocaleString("en")}/${clients.toLocaleString("en")} clients connected, joined and subscribed` +
          `${failed > 0 ? `, ${failed} failed` : ""}; gateway ${openFds(gatewayPid).toLocaleString("en")} fds`,
      );
    }
    await opening;
    const openMs = performance.now() - t0;
    const openCpu = cpuPercent(cpuOpen0, cpuNow(pids, helperPids), openMs / 1000);
    const results = opened as unknown as OpenResult[];
    const ok = results.reduce((n, r) => n + r.opened, 0);
    const failed = results.reduce((n, r) => n + r.failed, 0);
    note(
      `${label}: ${ok.toLocaleString("en")} clients open in ${(openMs / 1000).toFixed(1)} s ` +
        `(${Math.round(ok / (openMs / 1000))}/s)${failed > 0 ? `, ${failed} FAILED (${results.find((r) => r.firstError)?.firstError})` : ""}; ` +
        `CPU while opening: ${cpuLine(openCpu)}`,
    );
    if (ok < clients * 0.99)
      throw new Error(`only ${ok} of ${clients} clients could connect, join and subscribe`);
    // Every member reached the gateway's view (the projector wrote it, the KV watch brought it).
    await waitFor(
      async () => {
        stack.checkAlive();
        const view = (await stack.gatewayData()).view as { members?: number } | undefined;
        return (view?.members ?? 0) >= ok;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: `the gateway's view to hold ${ok} members` },
    );
    await sleep(opts.quick ? 3000 : 5000);
    const sockets = (await Promise.all(helpers.map((h) => h.call("progress")))).reduce(
      (n, p) => n + p.sockets,
      0,
    );
    const after = await sampleMemory(stack, gatewayPid);
    const rssPerSocket = perSocket(after.rss, before.rss, sockets);
    const heapPerSocket = perSocket(after.heapUsed, before.heapUsed, sockets);
    note(
      `${label}: ${sockets.toLocaleString("en")} sockets open: gateway RSS ${(after.rss / 2 ** 20).toFixed(1)} MiB ` +
        `(+${((after.rss - before.rss) / 2 ** 20).toFixed(1)} MiB, ${((rssPerSocket ?? 0) / KiB).toFixed(2)} KiB per socket), ` +
        `heap +${((after.heapUsed - before.heapUsed) / 2 ** 20).toFixed(1)} MiB (${((heapPerSocket ?? 0) / KiB).toFixed(2)} KiB per socket), ` +
        `${after.fds.toLocaleString("en")} fds`,
    );

    // ---- Idle: every socket open, nothing sent ----
    const idleMs = opts.quick ? 5000 : 10_000;
    const idle0 = cpuNow(pids, helperPids);
    await sleep(idleMs);
    const idleCpu = cpuPercent(idle0, cpuNow(pids, helperPids), idleMs / 1000);
    note(`${label}: idle, ${sockets.toLocaleString("en")} sockets: CPU ${cpuLine(idleCpu)}`);

    // ---- Churn: leaves and joins at a steady rate ----
    note(
      `${label}: churn at ${opts.wsRate} joins+leaves/s for ${(opts.warmupMs + opts.windowMs) / 1000} s ` +
        `(${opts.warmupMs / 1000} s warm-up)`,
    );
    await Promise.all(
      helpers.map((h) => h.call("startChurn", { rate: opts.wsRate / procs, warmupMs: opts.warmupMs })),
    );
    await sleep(opts.warmupMs);
    // Each worker's event loop, probed all through the window: when was it busy, and how long.
    const probes = {
      gateway: new LoopProbe(stack.nc, `$SRV.PING.${SERVICE_NAME}`, ""),
      "presence-actor": new LoopProbe(stack.nc, internalSubjects.stats("presence-actor"), "{}"),
    };
    for (const p of Object.values(probes)) p.start();
    const churn0 = cpuNow(pids, helperPids);
    const c0 = performance.now();
    await sleep(opts.windowMs);
    const churnCpu = cpuPercent(churn0, cpuNow(pids, helperPids), (performance.now() - c0) / 1000);
    const loops: Record<string, ProbeResult> = {
      gateway: probes.gateway.stop(STALL_MS),
      "presence-actor": probes["presence-actor"].stop(STALL_MS),
    };
    const churned: ChurnResult[] = await Promise.all(
      helpers.map((h) => h.call("stopChurn", { graceMs: 10_000 })),
    );
    stack.checkAlive();
    const sum = (f: (r: ChurnResult) => number) => churned.reduce((n, r) => n + f(r), 0);
    const seconds = Math.max(...churned.map((r) => r.seconds));
    const observer = percentiles(
      churned.flatMap((r) => r.observerMs),
      sum((r) => r.observerMissed),
    );
    const all = percentiles(
      churned.flatMap((r) => r.allMs),
      sum((r) => r.allMissed),
    );
    const reply = percentiles(churned.flatMap((r) => r.replyMs));
    const leave = percentiles(
      churned.flatMap((r) => r.leaveMs),
      sum((r) => r.leaveMissed),
    );
    const joins = sum((r) => r.joins);
    const leaves = sum((r) => r.leaves);
    const errors = sum((r) => r.errors);
    const closedByServer = sum((r) => r.closedByServer);
    const pushRate = round(sum((r) => r.pushes) / seconds, 0);
    note(
      `${label}: churn: ${round((joins + leaves) / seconds, 0)} joins+leaves/s, ${pushRate.toLocaleString("en")} pushes/s received; ` +
        `join → push at the observer p50 ${r2(observer.p50)} p99 ${r2(observer.p99)} max ${r2(observer.max)} ms ` +
        `(${observer.count} samples${observer.missed > 0 ? `, ${observer.missed} missed` : ""}); ` +
        `at every subscriber p50 ${r2(all.p50)} p99 ${r2(all.p99)} ms; join → reply p50 ${r2(reply.p50)} p99 ${r2(reply.p99)} ms; ` +
        `leave → push p50 ${r2(leave.p50)} p99 ${r2(leave.p99)} ms` +
        `${errors > 0 ? `; ${errors} errors (${churned.find((r) => r.firstError)?.firstError})` : ""}` +
        `${closedByServer > 0 ? `; ${closedByServer} sockets closed by the gateway ${JSON.stringify(churned.map((r) => r.closeCodes))}` : ""}`,
    );
    note(`${label}: CPU during the churn: ${cpuLine(churnCpu)}`);
    // The slow joins of the window, against the stalls of each worker at the same time.
    const slow: { at: number; ms: number }[] = [];
    for (const r of churned) {
      for (const [i, ms] of r.observerMs.entries()) {
        const at = r.observerAt[i] as number;
        if (ms > MAX_P99_MS) slow.push({ at, ms });
      }
    }
    const inStall = Object.fromEntries(
      Object.entries(loops).map(([k, l]) => [
        k,
        slow.filter((s) => overlapsStall(l.stalls, s.at, s.ms)).length,
      ]),
    );
    // The helpers' own stalls (a joiner or an observer late by itself), all helpers together.
    const clientStalls = churned.flatMap((r) => r.stalls).sort((a, b) => a.at - b.at);
    inStall.clients = slow.filter((s) => overlapsStall(clientStalls, s.at, s.ms)).length;
    const slowDetail = {
      threshold: MAX_P99_MS,
      count: slow.length,
      duringAStallOf: inStall,
      stallMs: STALL_MS,
    };
    for (const [k, l] of Object.entries(loops)) {
      note(
        `${label}: ${k}'s event loop during the churn: ${l.stalls.length} stalls ≥ ${STALL_MS} ms ` +
          `(longest ${l.longestMs ?? 0} ms, one every ${l.medianGapS ?? "—"} s (median), ${round(l.stalledShare * 100, 1)} % of the window); ` +
          `${inStall[k]} of the ${slow.length} joins slower than ${MAX_P99_MS} ms overlap one`,
      );
      const long = longStalls(l, LONG_STALL_MS);
      if (long.length > 0) note(`  ${k}: stalls ≥ ${LONG_STALL_MS} ms at ${long.slice(0, 30).join(", ")}`);
    }
    const clientLongest = clientStalls.reduce((m, s) => Math.max(m, s.ms), 0);
    note(
      `${label}: the helpers' own event loops: ${clientStalls.length} stalls ≥ ${STALL_MS} ms (longest ${round(clientLongest, 1)} ms); ` +
        `${inStall.clients} of the ${slow.length} slow joins overlap one`,
    );

    // ---- The sockets' own share: drop them (1006), the view keeps the members for their ttl ----
    await Promise.all(helpers.map((h) => h.call("terminate")));
    await waitFor(() => openFds(gatewayPid) <= before.fds + 64, {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: "the gateway to close its sockets",
    });
    const dropped = await sampleMemory(stack, gatewayPid);
    const viewAfterDrop = (await stack.gatewayData()).view as
      | { members?: number; users?: number }
      | undefined;
    const socketHeap = perSocket(after.heapUsed, dropped.heapUsed, sockets);
    note(
      `${label}: sockets dropped (the view still holds ${viewAfterDrop?.members ?? "?"} members): heap ` +
        `${(dropped.heapUsed / 2 ** 20).toFixed(1)} MiB, so the sockets themselves held ` +
        `${((socketHeap ?? 0) / KiB).toFixed(2)} KiB of heap each; RSS ${(dropped.rss / 2 ** 20).toFixed(1)} MiB`,
    );

    // ---- Figures ----
    const kib = (b: number | null) => (b === null ? null : round(b / KiB, 2));
    const rssPass = rssPerSocket === null ? null : rssPerSocket / KiB <= MAX_RSS_KIB;
    const p99Pass = observer.p99 === null ? false : observer.p99 <= MAX_P99_MS;
    const setup = {
      clients,
      sockets,
      failed,
      channels: channelCount,
      channelSize: size,
      subscribersPerChannel: subscribers,
      processes: procs,
      fdLimits: limits,
      openSeconds: round(openMs / 1000, 1),
      openCpuPercent: openCpu,
    };
    const memory = {
      before,
      after,
      droppedSockets: { ...dropped, viewMembers: viewAfterDrop?.members ?? null },
      perSocketBytes: {
        rss: rssPerSocket,
        rssAnon: perSocket(after.rssAnon, before.rssAnon, sockets),
        heapUsed: heapPerSocket,
        external: perSocket(after.external, before.external, sockets),
        arrayBuffers: perSocket(after.arrayBuffers, before.arrayBuffers, sockets),
        heapOfTheSocketsThemselves: socketHeap,
        heapOfTheViewAndTheRest: perSocket(dropped.heapUsed, before.heapUsed, sockets),
      },
    };
    // Work of other processes on the same cores delays every worker: said with the figures.
    const contended = (churnCpu.others ?? 0) > MAX_OTHERS_PERCENT;
    const churnDetail = {
      contended,
      loadAverage: loadavg().map((x) => round(x, 2)),
      rate: opts.wsRate,
      seconds: round(seconds, 1),
      joins,
      leaves,
      errors,
      skipped: sum((r) => r.skipped),
      pushesPerSecond: pushRate,
      closedByServer,
      joinToPushObserver: pct(observer),
      joinToPushEverySubscriber: pct(all),
      joinToReply: pct(reply),
      leaveToPushObserver: pct(leave),
      cpuPercent: churnCpu,
      idleCpuPercent: idleCpu,
      slowJoins: slowDetail,
      eventLoops: Object.fromEntries(
        Object.entries(loops).map(([k, l]) => [k, { ...l, stalls: l.stalls.slice(0, 200) }]),
      ),
      clientStalls: clientStalls.slice(0, 200).map((s) => ({ at: Math.round(s.at), ms: round(s.ms, 1) })),
    };
    const latency = (id: string, name: string, p: number | null, target?: boolean): Figure => ({
      id,
      name,
      value: r2(p),
      unit: "ms",
      better: "lower",
      baselines: [],
      ...(target === true
        ? { target: `≤ ${MAX_P99_MS} ms`, targetValue: MAX_P99_MS, pass: p !== null && p <= MAX_P99_MS }
        : {}),
    });
    const churnName = `${clients.toLocaleString("en")} sockets, ${subscribers} subscribers/channel, ${opts.wsRate} joins+leaves/s`;
    out.push(
      {
        id: "websocket.rss",
        name: `WebSocket: gateway RSS per socket (${clients.toLocaleString("en")} clients, channels of ${size})`,
        value: kib(rssPerSocket),
        unit: "KiB",
        better: "lower",
        baselines: [],
        target: `≤ ${MAX_RSS_KIB} KiB`,
        targetValue: MAX_RSS_KIB,
        pass: rssPass,
        detail: { ...setup, ...memory },
      },
      {
        id: "websocket.heap",
        name: "WebSocket: gateway heap per socket",
        value: kib(heapPerSocket),
        unit: "KiB",
        better: "lower",
        baselines: [],
        detail: { socketsThemselvesKiB: kib(socketHeap) },
      },
      {
        ...latency("websocket.push.p50", `WebSocket join → push p50 (${churnName})`, observer.p50),
        detail: churnDetail,
      },
      latency("websocket.push.p99", `WebSocket join → push p99 (${churnName})`, observer.p99, true),
      latency("websocket.reply.p99", "WebSocket join → reply p99 (the owner's verdict)", reply.p99),
      {
        id: "websocket.cpu",
        name: `WebSocket: gateway CPU during churn (${churnName})`,
        value: churnCpu.gateway ?? null,
        unit: "% of a core",
        better: "lower",
        baselines: [],
        detail: { churn: churnCpu, idle: idleCpu, opening: openCpu },
      },
    );
    const verdict = (pass: boolean | null) =>
      pass === true ? "met" : pass === false ? "MISSED" : "not measured";
    note(
      `${label}: VERDICT: RSS per socket ${kib(rssPerSocket)} KiB (target ≤ ${MAX_RSS_KIB} KiB): ${verdict(rssPass)}; ` +
        `join → push p99 ${r2(observer.p99)} ms (target ≤ ${MAX_P99_MS} ms): ${verdict(p99Pass)}` +
        `${contended ? ` — CONTENDED: other processes used ${churnCpu.others} % of a core during the churn, so the latency is not this deployment's alone` : ""}`,
    );
  } finally {
    await Promise.all(helpers.map((h) => h.stop()));
    await stack.dispose();
  }
}
