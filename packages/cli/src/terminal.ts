/**
 * A full-screen view in a terminal: the alternate screen, no cursor, keys read one at a time
 * (raw mode), and everything put back on the way out, whatever the way out is (a key, a
 * signal, an error, the process exiting).
 */
import type { OutStream } from "./context.js";

const ESC = "\x1b[";
export const ansi = {
  altScreen: `${ESC}?1049h`,
  mainScreen: `${ESC}?1049l`,
  hideCursor: `${ESC}?25l`,
  showCursor: `${ESC}?25h`,
  home: `${ESC}H`,
  clearLine: `${ESC}K`,
  clearBelow: `${ESC}J`,
} as const;

/** The text that redraws a screen in place: each line cleared to its end, the rest cleared. */
export function frame(lines: readonly string[]): string {
  return `${ansi.home}${lines.map((l) => `${l}${ansi.clearLine}`).join("\n")}\n${ansi.clearBelow}`;
}

export class FullScreen {
  #active = false;
  readonly #restore = () => this.leave();

  constructor(
    readonly out: OutStream,
    readonly input: NodeJS.ReadStream,
  ) {}

  /** Enters the view; `onKey` gets each key (Ctrl-C arrives as `\x03` in raw mode). */
  enter(onKey: (key: string) => void): void {
    this.#active = true;
    this.out.write(`${ansi.altScreen}${ansi.hideCursor}`);
    if (this.input.isTTY) this.input.setRawMode(true);
    this.input.setEncoding("utf8");
    this.input.on("data", onKey);
    this.input.resume();
    process.once("exit", this.#restore);
  }

  draw(lines: readonly string[]): void {
    if (this.#active) this.out.write(frame(lines));
  }

  /** Puts the terminal back as it was; safe to call twice. */
  leave(): void {
    if (!this.#active) return;
    this.#active = false;
    process.off("exit", this.#restore);
    this.input.removeAllListeners("data");
    if (this.input.isTTY) this.input.setRawMode(false);
    this.input.pause();
    this.out.write(`${ansi.showCursor}${ansi.mainScreen}`);
  }
}
