// Runs Herald on one machine: nats-server with nats.conf (unless NATS_URL points elsewhere) and
// the three workers as separate processes, each line of output prefixed with its name.
// Ctrl-C (or SIGTERM) stops the workers, then nats-server. If any process dies, all stop.
// nats.conf includes nats-auth.conf: the passwords come from .data/credentials.env (generated on
// the first start, scripts/credentials.mjs) into nats-server's environment, and each worker
// connects as its own user. No password is printed.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { COMPONENTS, redactNatsUrl } from "@herald/protocol";
import { natsServerBinary } from "@herald/testkit";
import { DEFAULT_FILE, ensureCredentials, natsUrlFor } from "./credentials.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tty = process.stdout.isTTY === true;
const colors = { nats: 36, gateway: 32, "presence-actor": 35, "status-projector": 33 };
const WORKERS = COMPONENTS;
// The client and monitoring addresses come from nats.conf, the one place they are set.
const natsConf = readFileSync(join(root, "nats.conf"), "utf8");
const address = (key) => {
  const m = natsConf.match(new RegExp(`^\\s*${key}\\s*:\\s*"?([\\w.-]+):(\\d+)`, "m"));
  if (!m) throw new Error(`nats.conf has no ${key}: host:port`);
  return { host: m[1], port: Number(m[2]) };
};
const client = address("listen");
const monitor = address("http");
const children = new Map();
let stopping = false;

function prefix(name) {
  const label = `[${name}]`.padEnd(19);
  return tty ? `\x1b[${colors[name]}m${label}\x1b[0m` : label;
}

function start(name, cmd, args, env = {}) {
  // detached: Ctrl-C reaches only this runner, which then stops the workers before nats-server.
  const child = spawn(cmd, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  children.set(name, child);
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on("line", (line) =>
      process.stdout.write(`${prefix(name)} ${line}\n`),
    );
  }
  child.on("exit", (code, signal) => {
    children.delete(name);
    if (!stopping) {
      process.stdout.write(
        `${prefix(name)} exited unexpectedly (${signal ?? `code ${code}`}); stopping all\n`,
      );
      void stopAll(1);
    }
  });
  child.on("error", (err) => {
    process.stdout.write(`${prefix(name)} could not start: ${err.message}\n`);
    void stopAll(1);
  });
  return child;
}

function exited(child) {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => child.once("exit", r));
}

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  const workers = WORKERS.map((w) => children.get(w)).filter(Boolean);
  for (const w of workers) w.kill("SIGTERM");
  await Promise.all(workers.map(exited));
  const nats = children.get("nats");
  if (nats) {
    nats.kill("SIGTERM");
    await exited(nats);
  }
  process.exit(code);
}

function portOpen({ host, port }) {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

async function waitHealthy(timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`http://${monitor.host}:${monitor.port}/healthz`)).ok) return true;
    } catch {
      // not listening yet
    }
    if (!children.has("nats")) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));
process.on("SIGHUP", () => void stopAll(0));
// If the runner itself dies, take the process groups of the children with it.
process.on("exit", () => {
  for (const child of children.values()) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

const env = { LOG_FORMAT: process.env.LOG_FORMAT ?? (tty ? "pretty" : "json") };
/** Each worker's NATS_URL (its own user), when this runner starts nats-server. */
const workerUrl = new Map();
if (process.env.NATS_URL) {
  process.stdout.write(
    `${prefix("nats")} using NATS_URL=${redactNatsUrl(process.env.NATS_URL)}; not starting nats-server\n`,
  );
} else {
  if (await portOpen(client)) {
    process.stderr.write(
      `Port ${client.port} is already in use. Stop that server (for the Debian service: ` +
        "`systemctl stop nats-server`),\n" +
        "or point Herald at it with NATS_URL=nats://host:port (it needs JetStream enabled).\n",
    );
    process.exit(1);
  }
  mkdirSync(join(root, ".data", "nats"), { recursive: true });
  const { vars, changed } = ensureCredentials(DEFAULT_FILE);
  const password = (user) => {
    const variable = `HERALD_${user.toUpperCase().replaceAll("-", "_")}_PASSWORD`;
    const value = vars.get(variable);
    if (value === undefined) throw new Error(`nats-auth.conf has no user ${user} ($${variable})`);
    return value;
  };
  for (const w of WORKERS) workerUrl.set(w, natsUrlFor(w, password(w), client.host, client.port));
  process.stdout.write(
    `${prefix("nats")} ${changed ? "generated" : "using"} the NATS passwords in .data/credentials.env; ` +
      `applications connect to nats://${client.host}:${client.port} as user client (HERALD_CLIENT_PASSWORD)\n`,
  );
  start("nats", natsServerBinary(), ["-c", "nats.conf"], Object.fromEntries(vars));
  if (!(await waitHealthy(15_000))) {
    process.stderr.write("nats-server did not become healthy within 15 s\n");
    await stopAll(1);
  }
}
// presence-actor: a larger young generation keeps major GC pauses short (docs/ARCHITECTURE.md).
const nodeFlags = (w) => (w === "presence-actor" ? ["--max-semi-space-size=64"] : []);
for (const w of WORKERS) {
  const url = workerUrl.get(w);
  start(w, process.execPath, [...nodeFlags(w), join("packages", w, "dist", "main.js")], {
    ...env,
    ...(url === undefined ? {} : { NATS_URL: url }),
  });
}
