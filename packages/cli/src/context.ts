/**
 * What every command gets: its standard streams, environment and clock (so tests and main
 * agree on one place for them), the global connection options, and a session (NATS connection
 * plus API client) opened for the command's role and closed after it.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { Command } from "commander";
import { Api } from "./api.js";
import { type Colors, colorEnabled, colors } from "./colors.js";
import { connectTo, findCredentialsFile } from "./nats.js";
import { connectionOptions, DEFAULT_TIMEOUT } from "./options.js";
import { parseDuration } from "./parse.js";
import { type NatsTarget, type Role, resolveTarget } from "./target.js";

export interface OutStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
  readonly rows?: number;
}

export interface Io {
  readonly stdout: OutStream;
  readonly stderr: OutStream;
  readonly stdin: NodeJS.ReadStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  now(): number;
}

export interface Session {
  readonly nc: NatsConnection;
  readonly api: Api;
  readonly target: NatsTarget;
  /** Request timeout (`--timeout`). */
  readonly timeoutMs: number;
}

export interface SessionOptions {
  /** Reconnect for ever (watch, top, simulate). */
  readonly longLived?: boolean;
}

export class Context {
  constructor(readonly io: Io) {}

  /** Colours for stdout (or `stream`), off for a pipe and with NO_COLOR. */
  colors(stream: OutStream = this.io.stdout): Colors {
    return colors(colorEnabled(stream, this.io.env));
  }

  out(text: string): void {
    this.io.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  err(text: string): void {
    this.io.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  json(value: unknown): void {
    this.out(JSON.stringify(value, null, 2));
  }

  timeoutMs(cmd: Command): number {
    return parseDuration(connectionOptions(cmd).timeout ?? DEFAULT_TIMEOUT, "--timeout");
  }

  /** Where and as whom `cmd` connects. */
  target(cmd: Command, role: Role): NatsTarget {
    const g = connectionOptions(cmd);
    const flags = { server: g.server, user: g.user, password: g.password, inboxPrefix: g.inboxPrefix };
    const needsFile =
      g.password === undefined &&
      (this.io.env.NATS_PASSWORD ?? "") === "" &&
      !/\/\/[^/]*@/.test(g.server ?? this.io.env.NATS_URL ?? "");
    const file = needsFile ? findCredentialsFile(g.credentials, this.io.cwd) : undefined;
    return resolveTarget(flags, this.io.env, role, file);
  }

  /** Runs `body` with a session of `role`, closed afterwards whatever happens. */
  async withSession<T>(
    cmd: Command,
    role: Role,
    body: (s: Session) => Promise<T>,
    opts: SessionOptions = {},
  ): Promise<T> {
    const timeoutMs = this.timeoutMs(cmd);
    const target = this.target(cmd, role);
    const nc = await connectTo(target, {
      timeoutMs,
      longLived: opts.longLived === true,
      name: `herald-cli-${cmd.name()}`,
    });
    try {
      return await body({ nc, api: new Api(nc, timeoutMs, target.user), target, timeoutMs });
    } finally {
      await nc.close().catch(() => {});
    }
  }
}

/** The `Examples:` block of a command's help. */
export function examples(lines: readonly [command: string, what: string][]): string {
  const width = Math.max(...lines.map(([c]) => c.length));
  return `\nExamples:\n${lines.map(([c, w]) => `  $ ${c.padEnd(width)}  # ${w}`).join("\n")}\n`;
}
