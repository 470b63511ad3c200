/**
 * Where and as whom to connect, from the options and the environment as the `nats` CLI takes
 * them: `--server` (else `NATS_URL`, else nats://127.0.0.1:4222; comma-separated; may carry
 * `user:pass@`), `--user`/`--password` (else `NATS_USER`/`NATS_PASSWORD`, else the URL's),
 * `--inbox-prefix`. A password still missing is taken from a credentials file (`npm start`
 * writes `.data/credentials.env`, `HERALD_<USER>_PASSWORD=…`), and with no user at all the
 * command's usual user (`client` for the API and events, `admin` for stats and the rebuild)
 * is used when that file has its password. Pure: the file's text comes in.
 */
import { UsageError } from "./errors.js";

export const DEFAULT_SERVER = "nats://127.0.0.1:4222";

/** The NATS user a command needs (nats-auth.conf): the public API, or operators' subjects. */
export type Role = "client" | "admin";

export interface ConnectionFlags {
  readonly server?: string | undefined;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  readonly inboxPrefix?: string | undefined;
}

export interface CredentialsFile {
  readonly path: string;
  readonly text: string;
}

export interface NatsTarget {
  /** Server URLs without credentials. */
  readonly servers: readonly string[];
  readonly user?: string;
  readonly pass?: string;
  readonly inboxPrefix?: string;
  /** The credentials file the password came from, if it did. */
  readonly passwordFrom?: string;
}

/** `HERALD_<USER>_PASSWORD`: the variable of a user's password in the credentials file. */
export const passwordVariable = (user: string): string =>
  `HERALD_${user.toUpperCase().replaceAll("-", "_")}_PASSWORD`;

/** `KEY=value` lines (comments and blank lines skipped; quotes around the value removed). */
export function parseEnvFile(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m === null) continue;
    let value = (m[2] as string).trim();
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    vars.set(m[1] as string, value);
  }
  return vars;
}

interface ParsedServers {
  servers: string[];
  user?: string;
  pass?: string;
}

/** Splits `nats://u:p@h:4222,h2:4222` into URLs without credentials and the credentials. */
export function parseServers(raw: string): ParsedServers {
  const out: ParsedServers = { servers: [] };
  for (const part of raw.split(",")) {
    const item = part.trim();
    if (item === "") throw new UsageError(`invalid --server: empty entry in ${JSON.stringify(raw)}`);
    let url: URL;
    try {
      url = new URL(item.includes("://") ? item : `nats://${item}`);
    } catch {
      throw new UsageError(
        `invalid --server: ${JSON.stringify(redact(item))} is not a URL (nats://host:port)`,
      );
    }
    if (url.protocol !== "nats:" && url.protocol !== "tls:")
      throw new UsageError(
        `invalid --server: ${JSON.stringify(redact(item))} has scheme ${url.protocol}; expected nats or tls`,
      );
    if (url.hostname === "")
      throw new UsageError(`invalid --server: ${JSON.stringify(redact(item))} has no host`);
    if (url.username !== "") {
      try {
        out.user = decodeURIComponent(url.username);
        out.pass = decodeURIComponent(url.password);
      } catch {
        throw new UsageError(`invalid --server: the user:pass of ${url.host} is not valid percent-encoding`);
      }
    }
    out.servers.push(`${url.protocol}//${url.host}`);
  }
  return out;
}

/** A URL with its `user:pass@` shown as `***@`. */
export const redact = (url: string): string => url.replace(/^([a-z]+:\/\/)?[^@/]*@/i, "$1***@");

/** Resolves the connection of a command of `role`. */
export function resolveTarget(
  flags: ConnectionFlags,
  env: Readonly<Record<string, string | undefined>>,
  role: Role,
  file?: CredentialsFile,
): NatsTarget {
  const nonEmpty = (v: string | undefined) => (v === undefined || v === "" ? undefined : v);
  const parsed = parseServers(nonEmpty(flags.server) ?? nonEmpty(env.NATS_URL) ?? DEFAULT_SERVER);
  let user = nonEmpty(flags.user) ?? nonEmpty(env.NATS_USER) ?? parsed.user;
  let pass =
    flags.password ?? nonEmpty(env.NATS_PASSWORD) ?? (user === parsed.user ? parsed.pass : undefined);
  let passwordFrom: string | undefined;
  if (pass === undefined && file !== undefined) {
    const vars = parseEnvFile(file.text);
    const candidate = user ?? role;
    const found = vars.get(passwordVariable(candidate));
    if (found !== undefined) {
      user = candidate;
      pass = found;
      passwordFrom = file.path;
    }
  }
  const inboxPrefix =
    nonEmpty(flags.inboxPrefix) ??
    (role === "admin" && user !== undefined && /^[A-Za-z0-9_-]+$/.test(user) ? `_INBOX_${user}` : undefined);
  return {
    servers: parsed.servers,
    ...(user !== undefined ? { user } : {}),
    ...(pass !== undefined ? { pass } : {}),
    ...(inboxPrefix !== undefined ? { inboxPrefix } : {}),
    ...(passwordFrom !== undefined ? { passwordFrom } : {}),
  };
}

/** `nats://127.0.0.1:4222 as client`: for messages. */
export function describeTarget(t: NatsTarget): string {
  return `${t.servers.join(",")}${t.user !== undefined ? ` as ${t.user}` : ""}`;
}
