/**
 * The time-series charts (uPlot, loaded by the page's own script tag: no network beyond the
 * gateway). Each chart keeps the stream's recent points and redraws on every tick; its figure's
 * label carries the latest values for those who cannot see the canvas.
 */
import type uPlot from "uplot";
import { rate } from "./format.js";
import type { SeriesPoint } from "./wire.js";

const UPlot = (globalThis as unknown as { uPlot: typeof uPlot }).uPlot;

export interface Line {
  readonly label: string;
  readonly stroke: string;
  readonly value: (p: SeriesPoint) => number | null;
}

const HEIGHT = 180;
const pad = (n: number) => String(n).padStart(2, "0");
/** An x tick (unix seconds) as the local time of day. */
const clock = (t: number) => {
  const d = new Date(t * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
};
const AXIS = {
  stroke: "#4a505a",
  grid: { stroke: "#e6e8ec", width: 1 },
  ticks: { stroke: "#d5d9e0", width: 1 },
};

export class Chart {
  readonly #el: HTMLElement;
  readonly #lines: readonly Line[];
  readonly #unit: string;
  readonly #plot: uPlot;
  #points: SeriesPoint[] = [];
  #windowMs = 10 * 60_000;

  constructor(el: HTMLElement, lines: readonly Line[], unit: string) {
    this.#el = el;
    this.#lines = lines;
    this.#unit = unit;
    el.setAttribute("role", "img");
    this.#plot = new UPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: HEIGHT,
        series: [
          {},
          ...lines.map((l) => ({
            label: l.label,
            stroke: l.stroke,
            width: 2,
            value: (_u: uPlot, v: number | null) =>
              v === null || v === undefined ? "–" : `${rate(v)}${unit}`,
          })),
        ],
        axes: [
          { ...AXIS, space: 70, values: (_u: uPlot, ticks: number[]) => ticks.map(clock) },
          { ...AXIS, size: 56, values: (_u: uPlot, ticks: number[]) => ticks.map((t) => rate(t)) },
        ],
        scales: {
          // The newest point at the right edge; the span grows with the points, from a minute
          // to the whole window.
          x: {
            time: true,
            range: (_u, min, max) => [max - Math.min(this.#windowMs / 1000, Math.max(60, max - min)), max],
          },
          y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] },
        },
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
      },
      this.#data(),
      el,
    );
    new ResizeObserver(() => {
      const width = Math.max(200, el.clientWidth);
      if (width !== this.#plot.width) this.#plot.setSize({ width, height: HEIGHT });
    }).observe(el);
    this.#describe();
  }

  /** Replaces the points (the stream's hello). */
  reset(points: readonly SeriesPoint[], windowMs: number): void {
    this.#windowMs = windowMs;
    this.#points = [...points];
    this.#redraw();
  }

  push(point: SeriesPoint): void {
    this.#points.push(point);
    const from = point.at_ms - this.#windowMs;
    while ((this.#points[0]?.at_ms ?? from) < from) this.#points.shift();
    this.#redraw();
  }

  get points(): number {
    return this.#points.length;
  }

  #data(): uPlot.AlignedData {
    return [this.#points.map((p) => p.at_ms / 1000), ...this.#lines.map((l) => this.#points.map(l.value))];
  }

  #redraw(): void {
    this.#plot.setData(this.#data());
    // Away from the cursor, the legend tells the latest values.
    if ((this.#plot.cursor.left ?? -1) < 0 && this.#points.length > 0) {
      this.#plot.setLegend({ idx: this.#points.length - 1 }, false);
    }
    this.#describe();
  }

  #describe(): void {
    const last = this.#points[this.#points.length - 1];
    const now = this.#lines
      .map((l) => `${l.label} ${last === undefined ? "–" : rate(l.value(last))}${this.#unit}`)
      .join(", ");
    this.#el.setAttribute("aria-label", `Chart of the last minutes; latest: ${now}`);
  }
}
