import { describe, expect, it } from "vitest";
import { colorEnabled } from "./colors.js";

describe("colorEnabled", () => {
  const tty = { isTTY: true };
  const pipe = { isTTY: false };

  it("colours a terminal, not a pipe", () => {
    expect(colorEnabled(tty, {})).toBe(true);
    expect(colorEnabled(pipe, {})).toBe(false);
    expect(colorEnabled(tty, { TERM: "dumb" })).toBe(false);
  });

  it("honours NO_COLOR over everything and FORCE_COLOR for pipes", () => {
    expect(colorEnabled(tty, { NO_COLOR: "1" })).toBe(false);
    expect(colorEnabled(pipe, { NO_COLOR: "1", FORCE_COLOR: "1" })).toBe(false);
    expect(colorEnabled(pipe, { FORCE_COLOR: "1" })).toBe(true);
    expect(colorEnabled(pipe, { FORCE_COLOR: "0" })).toBe(false);
    expect(colorEnabled(tty, { NO_COLOR: "" })).toBe(true);
  });
});
