/**
 * The operators' page (`GET /dashboard`): checks access, then follows the gateway's stream —
 * totals, workers and top channels from each tick, the charts' points, the live tail — and
 * reconnects with a growing pause when it ends. The detail panel reads its own endpoints.
 */
import { readStream, Unauthorized } from "./api.js";
import { Chart } from "./charts.js";
import { DetailPanel, routeOf } from "./details.js";
import { byId, setText } from "./dom.js";
import { time } from "./format.js";
import { ensureAccess } from "./key-prompt.js";
import { renderTopChannels, renderTotals } from "./overview.js";
import { TailView } from "./tail.js";
import { type EventBatch, type Hello, streamEvents, type TailFilter, type Tick } from "./wire.js";
import { renderWorkers } from "./workers.js";

const board = byId("board");
const conn = byId("conn");
let charts: Chart[] = [];
let filter: TailFilter = {};
let stream: AbortController | undefined;
let ticks = 0;

function status(text: string, bad = false): void {
  conn.classList.toggle("bad", bad);
  setText(conn, text);
}

function makeCharts(): Chart[] {
  return [
    new Chart(
      byId("chart-commands"),
      [{ label: "commands/s", stroke: "#1f4fd1", value: (p) => p.commands_per_s }],
      "",
    ),
    new Chart(
      byId("chart-events"),
      [{ label: "events/s", stroke: "#0b7a3b", value: (p) => p.events_per_s }],
      "",
    ),
    new Chart(
      byId("chart-latency"),
      [
        { label: "p50", stroke: "#6d28d9", value: (p) => p.query_p50_ms },
        { label: "p99", stroke: "#b34700", value: (p) => p.query_p99_ms },
      ],
      " ms",
    ),
  ];
}

function show(tick: Tick): void {
  renderTotals(tick);
  renderWorkers(tick);
  renderTopChannels(tick);
  ticks++;
  board.dataset.ticks = String(ticks);
  status(`Live · ${time(tick.at_ms)}`);
}

function onMessage(event: string, data: unknown): void {
  switch (event) {
    case streamEvents.hello: {
      const hello = data as Hello;
      for (const c of charts) c.reset(hello.series, hello.window_ms);
      if (hello.tick !== null) show(hello.tick);
      break;
    }
    case streamEvents.tick: {
      const tick = data as Tick;
      for (const c of charts) c.push(tick);
      show(tick);
      break;
    }
    case streamEvents.events:
      tail.add(data as EventBatch);
      break;
  }
}

const tail = new TailView((f) => {
  filter = f;
  stream?.abort();
});
const details = new DetailPanel((err) => {
  if (err instanceof Unauthorized) stream?.abort(err);
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function follow(): Promise<never> {
  let backoffMs = 1000;
  for (;;) {
    const controller = new AbortController();
    stream = controller;
    let why: unknown;
    try {
      await readStream(
        filter,
        {
          open: () => {
            backoffMs = 1000;
            status("Live");
          },
          message: onMessage,
        },
        controller.signal,
      );
      why = new Error("the stream ended");
    } catch (err) {
      why = controller.signal.aborted ? controller.signal.reason : err;
    }
    if (why instanceof Unauthorized) {
      await ensureAccess();
      board.hidden = false;
      continue;
    }
    // A new filter: reopen at once.
    if (controller.signal.aborted) continue;
    status(`Disconnected; trying again in ${Math.round(backoffMs / 1000)} s`, true);
    await pause(backoffMs);
    backoffMs = Math.min(backoffMs * 2, 10_000);
  }
}

async function main(): Promise<void> {
  status("Connecting…");
  await ensureAccess();
  board.hidden = false;
  charts = makeCharts();
  details.show(routeOf(location.hash));
  await follow();
}

main().catch((err: unknown) => status(`The page failed: ${(err as Error).message}`, true));
