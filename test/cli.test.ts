/**
 * The `herald` command line (packages/cli) as a user runs it: the built CLI as a child process
 * against nats-server (with auth) and the three workers as processes, as user `client` for the
 * API and events and `admin` for `top` and the rebuild. Each command's output is checked
 * against the API's own answers; `watch` and `top` also run in a pseudo-terminal (util-linux
 * `script`), where they draw for people and stop on Ctrl-C or `q`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMPONENTS, subjects } from "@herald/protocol";
import { NatsServer, repoRoot, WorkerProcess, waitFor } from "@herald/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLI = join(repoRoot, "packages", "cli", "dist", "main.js");
const GRACE_MS = 300;

interface Reply {
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's escapes are what it removes
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "");

/** A running CLI process: its output so far, waiting for text in it, its exit. */
class Cli {
  stdout = "";
  stderr = "";
  readonly exit: Promise<number | null>;

  constructor(readonly proc: ChildProcess) {
    proc.stdout?.on("data", (d: Buffer) => {
      this.stdout += d.toString("utf8");
    });
    proc.stderr?.on("data", (d: Buffer) => {
      this.stderr += d.toString("utf8");
    });
    this.exit = new Promise((resolve) => proc.once("close", (code) => resolve(code)));
  }

  async waitFor(pattern: RegExp, what: string, where: "stdout" | "stderr" = "stdout"): Promise<void> {
    await waitFor(() => pattern.test(stripAnsi(this[where])), { what, timeoutMs: 15_000 }).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n--- stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`);
      },
    );
  }

  /** Waits for the exit (killing the process if it takes too long). */
  async done(timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), timeoutMs);
    const code = await this.exit;
    clearTimeout(timer);
    return { code, stdout: this.stdout, stderr: this.stderr };
  }
}

describe("the herald command line", () => {
  let server: NatsServer;
  let nc: NatsConnection;
  const workers: WorkerProcess[] = [];

  /** The environment of a CLI run as `as` (nothing from the test's own environment). */
  const envFor = (as: "client" | "admin" | undefined): Record<string, string> => ({
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "",
    NATS_URL: server.url,
    PRESENCE_GRACE_MS: String(GRACE_MS),
    ...(as !== undefined ? { NATS_USER: as, NATS_PASSWORD: server.credentials[as] } : {}),
  });

  /** Starts `herald <args>` (stdout a pipe); the temp dir as cwd keeps a credentials file out. */
  const start = (
    args: string[],
    as: "client" | "admin" | undefined = "client",
    env: Record<string, string> = {},
  ) =>
    new Cli(
      spawn(process.execPath, [CLI, ...args], {
        env: { ...envFor(as), ...env },
        cwd: tmpdir(),
        stdio: ["pipe", "pipe", "pipe"],
      }),
    );
  const herald = (args: string[], as: "client" | "admin" | undefined = "client", input?: string) => {
    const cli = start(args, as);
    cli.proc.stdin?.end(input ?? "");
    return cli.done();
  };
  /** Starts `herald <args>` in a pseudo-terminal: `script` gives it a TTY; its stdin is the keyboard. */
  const startInTerminal = (args: string[], as: "client" | "admin") => {
    const command = [process.execPath, CLI, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
    return new Cli(
      // `exec`: the shell that script starts must not stay between, or Ctrl-C ends it too.
      spawn("script", ["-qfec", `exec ${command}`, "/dev/null"], {
        env: { ...envFor(as), TERM: "xterm-256color" },
        cwd: tmpdir(),
        stdio: ["pipe", "pipe", "pipe"],
      }),
    );
  };

  const call = async (method: string, params: unknown): Promise<Record<string, unknown>> => {
    const m = await nc.request(subjects.method(method), JSON.stringify(params), { timeout: 10_000 });
    const reply = m.json<Reply>();
    if (reply.error !== undefined) throw new Error(`${method}: ${reply.error.code} ${reply.error.message}`);
    return reply.result ?? {};
  };
  const json = (text: string) => JSON.parse(text) as Record<string, unknown>;

  beforeAll(async () => {
    server = await NatsServer.start({ auth: true });
    const env = { PRESENCE_GRACE_MS: String(GRACE_MS), LOG_LEVEL: "info" };
    for (const name of COMPONENTS)
      workers.push(WorkerProcess.spawn(name, { ...env, NATS_URL: server.urlFor(name) }));
    await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/)));
    nc = await connect(server.optionsFor("client"));
    await waitFor(
      async () => {
        const m = await nc.request(subjects.method("presence_stats"), '{"channel":"probe"}');
        return m.json<Reply>().error?.code !== 503;
      },
      { what: "gateway ready" },
    );
  });

  afterAll(async () => {
    await nc?.close();
    const exits = await Promise.all(workers.map((w) => w.stop("SIGTERM")));
    const violations = server?.permissionViolations();
    await server?.[Symbol.asyncDispose]();
    for (const [i, exit] of exits.entries()) expect(exit.code, workers[i]?.output).toBe(0);
    // The violations provoked on purpose: `top` as client, which may neither ask for stats nor
    // receive answers on the admin's inbox.
    expect(violations?.filter((l) => !/herald-cli-top" - \w+ Violation - User "client"/.test(l))).toEqual([]);
  });

  it("answers status, presence, stats, channels, history and at as the API does", async () => {
    const room = "cli room.1";
    await call("heartbeat", { user: "cli-a", conn: "c1", ttl_ms: 60_000 });
    await call("join", { user: "cli-a", conn: "c1", channel: room, data: { name: "Ada" } });
    await call("join", { user: "cli-b", conn: "t1", channel: room });
    await call("set_status", { user: "cli-b", status: "dnd", text: "focus" });
    await waitFor(
      async () => {
        const s = (await call("get_user_status", { users: ["cli-b"] })).statuses as { manual?: unknown }[];
        const p = (await call("presence", { channel: room })).members as unknown[];
        return s[0]?.manual !== undefined && p.length === 2;
      },
      { what: "the commands applied" },
    );
    const atMs = Date.now();
    const users = ["cli-a", "cli-b", "cli-nobody"];
    const [
      statusJson,
      statusTable,
      presenceJson,
      presenceTable,
      statsJson,
      statsTable,
      channels,
      historyJson,
      historyTable,
      atJson,
      atRelative,
    ] = await Promise.all([
      herald(["status", ...users, "--json"]),
      herald(["status", ...users]),
      herald(["presence", room, "--json"]),
      herald(["presence", room]),
      herald(["stats", room, "--json"]),
      herald(["stats", room]),
      herald(["channels", "cli-a"]),
      herald(["history", "--channel", room, "--json"]),
      herald(["history", "--user", "cli-a", "--since", "1m"]),
      herald(["at", String(atMs), ...users, "--json"]),
      herald(["at", "-10m", "cli-a"]),
    ]);
    for (const r of [statusJson, statusTable, presenceJson, presenceTable, statsJson, statsTable, channels])
      expect(r, r.stderr).toMatchObject({ code: 0, stderr: "" });
    for (const r of [historyJson, historyTable, atJson, atRelative])
      expect(r, r.stderr).toMatchObject({ code: 0 });

    // status: the API's answer (`online` is now while live, so it may have moved a second).
    const noOnline = (r: Record<string, unknown>) =>
      (r.statuses as Record<string, unknown>[]).map(({ online: _, ...rest }) => rest);
    expect(noOnline(json(statusJson.stdout))).toEqual(noOnline(await call("get_user_status", { users })));
    const rows = statusTable.stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^USER\s+STATUS\s+ONLINE\s+ACTIVE\s+MANUAL$/);
    expect(rows[1]).toMatch(
      /^cli-a\s+online\s+\d\d:\d\d:\d\d \((just now|\d+s ago)\)\s+\d\d:\d\d:\d\d \(.+\)\s+-$/,
    );
    expect(rows[2]).toMatch(/^cli-b\s+online\s+.+\s+dnd "focus"$/);
    expect(rows[3]).toMatch(/^cli-nobody\s+offline\s+-\s+-\s+-$/);
    expect(statusTable.stdout).not.toContain("\x1b["); // not a terminal: no colours

    expect(json(presenceJson.stdout)).toEqual(await call("presence", { channel: room }));
    expect(presenceTable.stdout).toMatch(/^cli-a\s+c1\s+\d\d:\d\d:\d\d \(.+\)\s+-\s+\{"name":"Ada"\}$/m);
    expect(presenceTable.stdout).toMatch(/^cli-b\s+t1\s+/m);
    expect(presenceTable.stdout).toContain("2 members, 2 users in cli room.1");

    expect(json(statsJson.stdout)).toEqual({ num_clients: 2, num_users: 2 });
    expect(statsTable.stdout).toMatch(/^cli room\.1\s+2\s+2$/m);
    expect(channels.stdout).toBe(`${room}\n`);

    expect(json(historyJson.stdout)).toEqual(await call("history", { channel: room }));
    expect((json(historyJson.stdout).events as unknown[]).length).toBe(2);
    expect(historyTable.stdout).toMatch(/^\d\d:\d\d:\d\d\.\d{3}\s+cli-a\s+offline → online$/m);

    expect(json(atJson.stdout)).toEqual(await call("status_at", { users, at_ms: atMs }));
    expect(atRelative.stdout).toMatch(/^statuses at .+ \(10m ago\)\nUSER\s+STATUS\ncli-a\s+offline\n$/);
  });

  it("call prints a result as JSON, and an error reply with its code and message (exit 1)", async () => {
    const [ok, fromStdin, conflict, unknown, invalid] = await Promise.all([
      herald(["call", "is_present", JSON.stringify({ channel: "cli room.1", user: "cli-a" })]),
      herald(["call", "channel_users", "-"], "client", JSON.stringify({ channel: "cli room.1" })),
      herald(["call", "update", JSON.stringify({ user: "cli-a", conn: "c1", channel: "nowhere", data: {} })]),
      herald(["call", "no_such_method"]),
      herald(["call", "get_user_status", '{"users":"cli-a"}']),
    ]);
    expect(ok).toMatchObject({ code: 0, stderr: "" });
    expect(ok.stdout).toBe('{\n  "present": true\n}\n');
    expect(json(fromStdin.stdout).users).toEqual(["cli-a", "cli-b"].sort());
    expect(conflict.code).toBe(1);
    expect(conflict.stdout).toBe("");
    expect(conflict.stderr).toMatch(/^herald: update: error 409: .*nowhere/);
    expect(unknown).toMatchObject({ code: 1 });
    expect(unknown.stderr).toMatch(/^herald: no_such_method: error 404: /);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^herald: get_user_status: error 400: .*users/);
  });

  it("exits 2 on bad usage and 1 when it cannot connect, naming what was wrong", async () => {
    const [noArgs, badSince, badJson, badPassword, noServer] = await Promise.all([
      herald(["status"]),
      herald(["history", "--channel", "c", "--since", "a while"]),
      herald(["call", "join", "{"]),
      herald(["status", "x", "--password", "wrong"]),
      herald(["status", "x", "--server", "nats://127.0.0.1:1"]),
    ]);
    expect(noArgs.code).toBe(2);
    expect(noArgs.stderr).toMatch(/missing required argument 'user'/);
    expect(badSince.code).toBe(2);
    expect(badSince.stderr).toMatch(/^herald: invalid --since: "a while" is not a time/);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/^herald: invalid params: not JSON/);
    expect(badPassword.code).toBe(1);
    expect(badPassword.stderr).toBe(
      `herald: cannot connect to ${server.url} as client: authorization violation (user client or its password refused)\n`,
    );
    expect(noServer.code).toBe(1);
    expect(noServer.stderr).toMatch(
      /^herald: cannot connect to nats:\/\/127\.0\.0\.1:1 as client: connection refused/,
    );
  });

  it("watch --json prints the events of the commands sent, as the API's history has them", async () => {
    const user = "cli-w";
    const room = "cli w.room";
    const watch = start(["watch", "--json", "--user", user, "--channel", room, "--count", "3"]);
    await watch.waitFor(
      /^watching presence\.events\.user\.cli-w, presence\.events\.channel\.cli=20w=2Eroom on /,
      "watching",
      "stderr",
    );
    await call("heartbeat", { user, conn: "k1", ttl_ms: 60_000 });
    await call("join", { user, conn: "k1", channel: room, data: { x: 1 } });
    await call("leave", { user, conn: "k1", channel: room });
    const r = await watch.done();
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trimEnd().split("\n").map(json);
    expect(events.map((e) => e.type)).toEqual(["status", "join", "leave"]);
    expect(events[0]).toMatchObject({ user, status: "online", prev: "offline" });
    const history = [
      ...((await call("history", { user })).events as unknown[]),
      ...((await call("history", { channel: room })).events as unknown[]),
    ];
    expect(history).toEqual(expect.arrayContaining(events));
  });

  it("watch in a terminal prints aligned, coloured lines and stops on Ctrl-C", async () => {
    const room = "cli tty room";
    const watch = startInTerminal(["watch", "--channel", room], "client");
    await watch.waitFor(
      /watching presence\.events\.channel\.cli=20tty=20room .*\(Ctrl-C to stop\)/,
      "watching",
    );
    await call("join", { user: "cli-t", conn: "k1", channel: room, data: { name: "Tee" } });
    await call("leave", { user: "cli-t", conn: "k1", channel: room });
    await watch.waitFor(/leave/, "the leave event");
    watch.proc.stdin?.write("\x03");
    const r = await watch.done();
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain("\x1b[32mjoin\x1b[39m");
    const lines = stripAnsi(r.stdout).split("\n");
    const join = lines.find((l) => / join /.test(l));
    const leave = lines.find((l) => / leave /.test(l));
    expect(join).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} {2}join {4}cli tty room {2}cli-t\/k1 +first {2}\{"name":"Tee"\}$/,
    );
    expect(leave).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}leave {3}cli tty room {2}cli-t\/k1 +leave last$/);
    // Aligned: the user column starts at the same place on both lines.
    expect(join?.indexOf("cli-t")).toBe(leave?.indexOf("cli-t"));
  });

  it("top shows every worker process in a terminal and restores it on q", async () => {
    const pids = workers.map((w) => String(w.pid));
    const top = startInTerminal(["top"], "admin");
    await top.waitFor(
      new RegExp(pids.map((pid) => `(?=[\\s\\S]*\\b${pid}\\b)`).join("")),
      "a row for each worker process",
    );
    const screen = stripAnsi(top.stdout);
    expect(screen).toContain("herald top");
    expect(screen).toMatch(/^gateway\s+\d+\s+\S+.*\s+yes\s+/m);
    expect(screen).toMatch(/^presence-actor\s+\d+\s+.*\s+\d+ \(0-\d+\)\s+(\d+)\/\1\s+/m);
    expect(screen).toMatch(/^status-projector\s+\d+\s+.*\s+(yes|no)\s+\d+\s+/m);
    expect(screen).toMatch(/known users \d+/);
    top.proc.stdin?.write("q");
    const r = await top.done();
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith("\x1b[?1049h\x1b[?25l")).toBe(true);
    expect(r.stdout.endsWith("\x1b[?25h\x1b[?1049l")).toBe(true);

    // Not in a terminal: one snapshot, as text or JSON.
    const [once, onceJson, asClient] = await Promise.all([
      herald(["top", "--once"], "admin"),
      herald(["top", "--once", "--json"], "admin"),
      herald(["top", "--once"], "client"),
    ]);
    expect(once.code, once.stderr).toBe(0);
    for (const pid of pids) expect(once.stdout).toMatch(new RegExp(`\\s${pid}\\s`));
    const snapshot = json(onceJson.stdout) as { workers: Record<string, { pid: number }[]> };
    expect(COMPONENTS.map((c) => snapshot.workers[c]?.map((w) => w.pid))).toEqual(
      workers.map((w) => [w.pid]),
    );
    // Another user than admin cannot even receive the answers on the admin inbox.
    expect(asClient.code).toBe(1);
    expect(asClient.stderr).toMatch(/^herald: NATS user client may not receive replies on _INBOX_client\.>/);
  });

  it("simulate sends a load the API then shows, and disconnects every conn at the end", async () => {
    const users = Array.from({ length: 12 }, (_, i) => `clisim-u${i + 1}`);
    const r = await herald([
      "simulate",
      ...["--users", "12", "--channels", "3", "--rate", "40", "--duration", "3s"],
      ...["--seed", "42", "--prefix", "clisim"],
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^simulating 12 users in 3 channels at 40\/s for 3s on .* as client/);
    expect(r.stderr).toMatch(/simulate \[#+\] 100%/);
    const calls = /^calls: (\d+) in \S+ \(.+\), ok (\d+), errors (\d+)/m.exec(r.stdout);
    expect(calls, r.stdout).not.toBeNull();
    expect(Number(calls?.[1])).toBeGreaterThan(60);
    expect(Number(calls?.[2])).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/^actions: .*open \d+.*$/m);
    // Users were seen online; each conn was disconnected, so each is offline after the grace.
    const seen = (await call("get_user_status", { users })).statuses as { online?: number }[];
    expect(seen.filter((s) => s.online !== undefined).length).toBeGreaterThan(6);
    await waitFor(
      async () =>
        ((await call("get_user_status", { users })).statuses as { status: string }[]).every(
          (s) => s.status === "offline",
        ),
      { what: "every simulated user offline" },
    );
    const history = await herald(["history", "--user", "clisim-u1", "--json"]);
    expect((json(history.stdout).events as unknown[]).length).toBeGreaterThan(0);
  });

  it("projections rebuild rebuilds the projections and compares them with the live ones", async () => {
    // The live projections may lag the last facts for a moment: compare until they agree.
    const r = await waitFor(
      async () => {
        const run = await herald(["projections", "rebuild", "--compare"], "admin");
        return run.code === 0 ? run : undefined;
      },
      { what: "a rebuild with no differences", timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(r.stdout).toMatch(
      /^rebuilt presence_status_rebuild, presence_members_rebuild: \d+ facts, 0 invalid, \d+ writes, \d+ keys in [\d.]+ s \(.+\); compare: no differences\n$/,
    );
    expect(r.stderr).toMatch(/rebuild 100% /);
  });
});
