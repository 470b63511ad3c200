import { ErrorCode, HeraldError, InvalidParamsError, toHeraldError } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { BATCH_MAX_COMMANDS, parseBatch, runBatch } from "./batch.js";

const failure = (err: unknown) => toHeraldError(err).toJSON() as Record<string, unknown>;

describe("parseBatch", () => {
  it("reads commands and parallel, and marks each malformed command in place", () => {
    const batch = parseBatch({ commands: [{ a: 1 }, "x", { a: 1, b: 2 }, { batch: {} }], parallel: true });
    expect(batch.parallel).toBe(true);
    expect(batch.commands[0]).toEqual({ method: "a", params: 1 });
    for (const i of [1, 2, 3]) expect(batch.commands[i]).toBeInstanceOf(InvalidParamsError);
  });

  it("refuses a body of the wrong shape (400) and too many commands (413)", () => {
    const code = (body: unknown) => {
      try {
        parseBatch(body);
      } catch (err) {
        return (err as HeraldError).code;
      }
      return undefined;
    };
    for (const bad of [
      null,
      [],
      "x",
      {},
      { commands: {} },
      { commands: [], parallel: 1 },
      { commands: [], x: 1 },
    ]) {
      expect(code(bad)).toBe(ErrorCode.InvalidParams);
    }
    expect(code({ commands: Array(BATCH_MAX_COMMANDS).fill({ a: 1 }) })).toBeUndefined();
    expect(code({ commands: Array(BATCH_MAX_COMMANDS + 1).fill({ a: 1 }) })).toBe(ErrorCode.TooLarge);
  });
});

describe("runBatch", () => {
  const commands = [
    { method: "slow", params: 30 },
    { method: "fails", params: 0 },
    { method: "fast", params: 1 },
  ];
  const serve = (log: string[]) => async (method: string, params: unknown) => {
    log.push(`start ${method}`);
    if (method === "fails") throw new HeraldError(ErrorCode.Conflict, "no");
    await new Promise((resolve) => setTimeout(resolve, params as number));
    log.push(`end ${method}`);
    return { method };
  };

  it("runs one after another unless parallel, and answers in order either way", async () => {
    const seq: string[] = [];
    const replies = await runBatch({ commands, parallel: false }, serve(seq), failure);
    expect(seq).toEqual(["start slow", "end slow", "start fails", "start fast", "end fast"]);
    expect(replies).toEqual([
      { slow: { method: "slow" } },
      { error: { code: 409, message: "no" } },
      { fast: { method: "fast" } },
    ]);
    const par: string[] = [];
    expect(await runBatch({ commands, parallel: true }, serve(par), failure)).toEqual(replies);
    expect(par.slice(0, 3)).toEqual(["start slow", "start fails", "start fast"]);
  });

  it("a bug in one command is an internal error for it alone", async () => {
    const replies = await runBatch(
      { commands: [{ method: "a", params: 0 }, new InvalidParamsError("bad")], parallel: false },
      async () => {
        throw new TypeError("boom");
      },
      failure,
    );
    expect(replies).toEqual([
      { error: { code: 500, message: "internal error" } },
      { error: { code: 400, message: "bad" } },
    ]);
  });
});
