import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import type { Io } from "./context.js";
import { run } from "./program.js";

/** Runs a command line with captured output and no NATS (every case here ends before connecting). */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: Io = {
    stdout: { write: (s: string) => (out += s), isTTY: false },
    stderr: { write: (s: string) => (err += s), isTTY: false },
    stdin: new PassThrough() as unknown as NodeJS.ReadStream,
    env: { NATS_URL: "nats://127.0.0.1:1" },
    cwd: "/",
    now: () => Date.UTC(2025, 4, 1, 12),
  };
  const code = await run(args, io);
  return { code, out, err };
}

const COMMANDS = [
  ["status"],
  ["presence"],
  ["stats"],
  ["channels"],
  ["history"],
  ["at"],
  ["watch"],
  ["call"],
  ["top"],
  ["simulate"],
  ["projections", "rebuild"],
];

describe("the herald program", () => {
  it("lists every command in its help, with examples and exit codes", async () => {
    const { code, out } = await cli("--help");
    expect(code).toBe(0);
    for (const [name] of COMMANDS) expect(out).toMatch(new RegExp(`^  ${name} `, "m"));
    expect(out).toContain("Examples:");
    expect(out).toContain("Exit codes: 0 ok, 1 failure");
  });

  it.each(COMMANDS)("has --help with examples and connection options for %s", async (...names) => {
    const { code, out, err } = await cli(...names, "--help");
    expect(code).toBe(0);
    expect(err).toBe("");
    expect(out).toContain(`Usage: herald ${names.join(" ")}`);
    expect(out).toContain("Examples:\n  $ herald");
    expect(out).toContain("Connection options:");
    expect(out).toContain("--server <url>");
  });

  it("prints its version", async () => {
    expect(await cli("--version")).toMatchObject({ code: 0, out: "0.1.0\n" });
  });

  it.each([
    [["bogus"], /unknown command 'bogus'/],
    [["status"], /missing required argument 'user'/],
    [["status", "42", "--bogus"], /unknown option '--bogus'/],
    [["history"], /give exactly one of --user and --channel/],
    [["history", "--user", "a", "--channel", "b"], /the NATS user goes before the command/],
    [["history", "--channel", "c", "--since", "soon"], /invalid --since: "soon" is not a time/],
    [
      ["history", "--channel", "c", "--since", "5m", "--until", "10m"],
      /invalid --since: it is after --until/,
    ],
    [["history", "--user", "u", "--limit", "5000"], /invalid --limit: must be 1..1000, got 5000/],
    [["at", "tomorrowish", "42"], /invalid <time>: "tomorrowish" is not a time/],
    [["call", "join", "{nope"], /invalid params: not JSON/],
    [["call", "join", "[]"], /invalid params: must be a JSON object/],
    [["watch", "--count", "0"], /invalid --count: must be 1\.\./],
    [["top", "--interval", "fast"], /invalid --interval: "fast" is not a duration/],
    [["simulate", "--users", "0"], /invalid --users: must be 1\.\./],
    [["simulate", "--rate", "x"], /invalid --rate: "x" is not a number above 0/],
    [["simulate", "--duration", "1x"], /invalid --duration/],
    [["simulate", "--prefix", "a b"], /invalid --prefix/],
    [["projections", "rebuild", "--suffix", "a.b"], /invalid --suffix/],
    [["status", "42", "--timeout", "never"], /invalid --timeout/],
    [["status", "42", "--server", "http://x:1"], /invalid --server: .* expected nats or tls/],
  ])("exits 2 on bad usage: %j", async (args, message) => {
    const { code, err, out } = await cli(...(args as string[]));
    expect(err).toMatch(message as RegExp);
    expect(err).toMatch(/^herald: /);
    expect(out).toBe("");
    expect(code).toBe(2);
  });
});
