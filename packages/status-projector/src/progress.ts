/**
 * The rebuild's progress for people: one line redrawn in place on a terminal, or a line at
 * every 10 % in a log (CI, a pipe), where redrawing would only fill the file.
 */
import type { RebuildProgress } from "./rebuild.js";

const BAR_WIDTH = 20;

/** `1,234,567`: grouped, whatever the locale of the machine. */
export const count = (n: number): string => Math.round(n).toLocaleString("en-US");

/** `812/s`, `8.1k/s`, `1.2M/s`. */
export function rate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(1)}M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)}k/s`;
  return `${Math.round(perSecond)}/s`;
}

/** Percent done, 100 when there is nothing to do. */
export const percent = ({ read, total }: RebuildProgress): number =>
  total <= 0 ? 100 : Math.min(100, Math.floor((read * 100) / total));

/** `rebuild [##########..........] 50% 12,345/24,690 facts 8.1k/s` */
export function progressLine(p: RebuildProgress): string {
  const pct = percent(p);
  const filled = Math.floor((pct * BAR_WIDTH) / 100);
  const bar = `${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}`;
  const speed = p.elapsedMs > 0 ? rate((p.read * 1000) / p.elapsedMs) : rate(0);
  return `rebuild [${bar}] ${pct}% ${count(p.read)}/${count(p.total)} facts ${speed}`;
}

/** Where the bar goes: stderr, or a stand-in in tests. */
export interface ProgressOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** Draws progress updates on `out`; `end()` finishes the line. */
export class ProgressBar {
  readonly #out: ProgressOutput;
  /** The last 10 % step printed (log mode). */
  #step = -1;
  #drawn = false;

  constructor(out: ProgressOutput) {
    this.#out = out;
  }

  update(p: RebuildProgress): void {
    if (this.#out.isTTY === true) {
      // Back to the start of the line, draw, clear what a longer line left.
      this.#out.write(`\r${progressLine(p)}\x1b[K`);
      this.#drawn = true;
      return;
    }
    const step = Math.floor(percent(p) / 10);
    if (step > this.#step) {
      this.#step = step;
      this.#out.write(`${progressLine(p)}\n`);
    }
  }

  /** Ends the redrawn line, so what follows starts on its own. */
  end(): void {
    if (this.#drawn) this.#out.write("\n");
    this.#drawn = false;
  }
}
