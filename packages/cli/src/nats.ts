/**
 * The NATS connection of a command: connect as its target (failing within the connect
 * timeout with a message naming the server and why), the API client on it, and a message for
 * every NATS error a request can end with.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import {
  AuthorizationError,
  type NatsConnection,
  NoRespondersError,
  PermissionViolationError,
  RequestError,
  TimeoutError,
} from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { CliError, ConnectError } from "./errors.js";
import { type CredentialsFile, describeTarget, type NatsTarget } from "./target.js";

/** Where `npm start` writes the users' passwords, relative to the repository root. */
export const CREDENTIALS_FILE = join(".data", "credentials.env");

/**
 * The credentials file: `path` when given (empty: none), else `.data/credentials.env` in `cwd`
 * or the nearest directory above it that has one.
 */
export function findCredentialsFile(path: string | undefined, cwd: string): CredentialsFile | undefined {
  if (path === "") return undefined;
  if (path !== undefined) {
    try {
      return { path, text: readFileSync(path, "utf8") };
    } catch (err) {
      throw new CliError(`cannot read --credentials ${path}: ${(err as Error).message}`);
    }
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, CREDENTIALS_FILE);
    if (existsSync(candidate)) {
      try {
        return { path: candidate, text: readFileSync(candidate, "utf8") };
      } catch {
        return undefined;
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

export interface ConnectOptions {
  /** Give up on the first connection after this long. */
  readonly timeoutMs: number;
  /** Reconnect for ever once connected (long-running commands); else give up soon. */
  readonly longLived?: boolean;
  readonly name?: string;
}

/** The message of an error from connecting, without nats.js's class names. */
function connectReason(err: unknown, target: NatsTarget): string {
  const e = err as Error & { code?: string };
  if (err instanceof AuthorizationError || /authoriz/i.test(e.message)) {
    const how =
      target.user === undefined
        ? "no user given: use --user/--password, NATS_USER/NATS_PASSWORD, user:pass@ in the URL, or --credentials"
        : `user ${target.user} or its password refused`;
    return `authorization violation (${how})`;
  }
  const cause = (e.cause as { code?: string; message?: string } | undefined) ?? e;
  if (cause.code === "ECONNREFUSED") return "connection refused (is nats-server running?)";
  return cause.message ?? e.message;
}

export async function connectTo(target: NatsTarget, opts: ConnectOptions): Promise<NatsConnection> {
  try {
    return await connect({
      servers: [...target.servers],
      name: opts.name ?? "herald-cli",
      ...(target.user !== undefined ? { user: target.user, pass: target.pass ?? "" } : {}),
      ...(target.inboxPrefix !== undefined ? { inboxPrefix: target.inboxPrefix } : {}),
      timeout: opts.timeoutMs,
      maxReconnectAttempts: opts.longLived === true ? -1 : 3,
      reconnectTimeWait: 500,
    });
  } catch (err) {
    throw new ConnectError(`cannot connect to ${describeTarget(target)}: ${connectReason(err, target)}`);
  }
}

/** A failed request or subscription as one line naming the subject. */
export function natsErrorMessage(err: unknown, subject: string, timeoutMs: number, user?: string): string {
  const e = err as Error;
  const cause = e.cause;
  if (
    err instanceof NoRespondersError ||
    cause instanceof NoRespondersError ||
    (err instanceof RequestError && err.isNoResponders())
  ) {
    return `no one answers ${subject}: is Herald (its gateway) running and connected to this NATS server?`;
  }
  if (err instanceof TimeoutError || cause instanceof TimeoutError) {
    return `no answer on ${subject} within ${timeoutMs / 1000} s`;
  }
  const pv =
    err instanceof PermissionViolationError
      ? err
      : cause instanceof PermissionViolationError
        ? cause
        : undefined;
  if (pv !== undefined || /permissions? violation/i.test(e.message)) {
    const denied = pv?.subject ?? /to "([^"]+)"/i.exec(e.message)?.[1] ?? subject;
    const who = `NATS user ${user ?? "(none)"}`;
    if (denied.startsWith("_INBOX")) {
      const prefix = denied.split(".")[0];
      return `${who} may not receive replies on ${prefix}.> (the inbox prefix; see --inbox-prefix): in nats-auth.conf the API needs user client (_INBOX), stats and the rebuild user admin (_INBOX_admin)`;
    }
    return `${who} may not use ${denied}: in nats-auth.conf the API needs user client, stats and the rebuild user admin`;
  }
  return `${subject}: ${e.message}`;
}
