/**
 * Configuration: read once from the environment (CONTRACT.md §2 plus Herald's internal
 * settings), validated, frozen and passed down. Modules never read `process.env` themselves.
 */

import { ConfigError, type ConfigProblem } from "./errors.js";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ["auto", "pretty", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface NatsConfig {
  /** Server URLs without credentials. */
  readonly servers: readonly string[];
  readonly user?: string;
  readonly pass?: string;
}

export interface Config {
  readonly nats: NatsConfig;
  /** PRESENCE_TTL_MS: default conn timeout. */
  readonly ttlMs: number;
  /** PRESENCE_MAX_TTL_MS: largest accepted `ttl_ms`. */
  readonly maxTtlMs: number;
  /** PRESENCE_GRACE_MS: grace before a user with no live conn is offline. */
  readonly graceMs: number;
  /** PRESENCE_AWAY_AFTER_MS: inactivity before `online` turns `away`. */
  readonly awayAfterMs: number;
  readonly logLevel: LogLevel;
  /** LOG_FORMAT: `pretty` for people, `json` for machines, `auto` = pretty in a terminal. */
  readonly logFormat: LogFormat;
  /** HERALD_PARTITIONS: partitions of the command stream. */
  readonly partitions: number;
  /** HERALD_REPLICAS: replicas of every stream and bucket. */
  readonly replicas: number;
  /** HERALD_EVENTS_MAX_AGE_MS: how long the events stream (and so history) keeps events. */
  readonly eventsMaxAgeMs: number;
  /** HERALD_SNAPSHOT_INTERVAL_MS: how often presence-actor snapshots a busy partition. */
  readonly snapshotIntervalMs: number;
  /** HERALD_LEASE_TTL_MS: a partition lease's lifetime; a dead owner's partitions move after it. */
  readonly leaseTtlMs: number;
  /** HERALD_MAX_CONNS_PER_USER: live conns a user may hold at once (429 beyond). */
  readonly maxConnsPerUser: number;
  /** HERALD_MAX_CHANNELS_PER_CONN: channels one conn may be in at once (413 beyond). */
  readonly maxChannelsPerConn: number;
  /** HERALD_OFFLINE_RETENTION_MS: how long an offline user's `online`/`active` are kept. */
  readonly offlineRetentionMs: number;
  /** HERALD_USER_RATE: commands per second per user, per gateway (429 beyond). */
  readonly userRate: number;
  /** HERALD_CLIENT_RATE: requests per second per client connection, per gateway (429 beyond). */
  readonly clientRate: number;
  /** HTTP_ADDR: the gateway's HTTP listener (API, health, metrics); undefined when `off`. */
  readonly httpAddr: ListenAddress | undefined;
  /** HTTP_API_KEY: the key HTTP API callers must present; undefined leaves the API open (loopback only). */
  readonly httpApiKey: string | undefined;
  /** METRICS_ADDR: presence-actor's and status-projector's listener for /metrics and /health. */
  readonly metricsAddr: ListenAddress | undefined;
  /** How the gateway checks WebSocket clients' tokens (CONTRACT.md §8). */
  readonly clientTokens: ClientTokenConfig;
  /** CHANNEL_EVENTS_MAX_MEMBERS: above this many members, WebSocket subscribers get interval pushes. */
  readonly channelEventsMaxMembers: number;
  /** CHANNEL_INTERVAL_MS: the period of those interval pushes. */
  readonly channelIntervalMs: number;
}

export interface ClientTokenConfig {
  /** CLIENT_TOKEN_HMAC_SECRET: verifies HS256 tokens. */
  readonly hmacSecret: string | undefined;
  /** CLIENT_TOKEN_PUBLIC_KEY: a PEM public key (SPKI) that verifies RS256 or ES256 tokens. */
  readonly publicKey: string | undefined;
  /** CLIENT_TOKEN_ISSUER, CLIENT_TOKEN_AUDIENCE: required `iss` and `aud` when set. */
  readonly issuer: string | undefined;
  readonly audience: string | undefined;
  /** CLIENT_INSECURE: development only; tokens are not verified and the client may name its user. */
  readonly insecure: boolean;
}

/** A `host:port` to listen on (port 0: any free port). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  /** Whether only this machine can connect (127.0.0.0/8, ::1, localhost). */
  readonly loopback: boolean;
}

export const DEFAULT_HTTP_ADDR = "127.0.0.1:8000";

export type Env = Readonly<Record<string, string | undefined>>;

const DAY_MS = 86_400_000;

interface IntSpec {
  readonly variable: string;
  readonly fallback: number;
  readonly min: number;
  readonly max: number;
}

/** Every integer variable, its default and its accepted range. */
export const INT_VARIABLES = {
  ttlMs: { variable: "PRESENCE_TTL_MS", fallback: 30_000, min: 1000, max: 7 * DAY_MS },
  maxTtlMs: { variable: "PRESENCE_MAX_TTL_MS", fallback: 3_600_000, min: 1000, max: 7 * DAY_MS },
  graceMs: { variable: "PRESENCE_GRACE_MS", fallback: 5000, min: 0, max: 3_600_000 },
  awayAfterMs: {
    variable: "PRESENCE_AWAY_AFTER_MS",
    fallback: 300_000,
    min: 1000,
    max: 30 * DAY_MS,
  },
  partitions: { variable: "HERALD_PARTITIONS", fallback: 16, min: 1, max: 1024 },
  replicas: { variable: "HERALD_REPLICAS", fallback: 1, min: 1, max: 5 },
  eventsMaxAgeMs: {
    variable: "HERALD_EVENTS_MAX_AGE_MS",
    fallback: 7 * DAY_MS,
    min: 60_000,
    max: 3650 * DAY_MS,
  },
  snapshotIntervalMs: {
    variable: "HERALD_SNAPSHOT_INTERVAL_MS",
    fallback: 60_000,
    min: 100,
    max: DAY_MS,
  },
  leaseTtlMs: { variable: "HERALD_LEASE_TTL_MS", fallback: 5000, min: 500, max: 60_000 },
  maxConnsPerUser: { variable: "HERALD_MAX_CONNS_PER_USER", fallback: 16, min: 1, max: 10_000 },
  maxChannelsPerConn: { variable: "HERALD_MAX_CHANNELS_PER_CONN", fallback: 16, min: 1, max: 10_000 },
  offlineRetentionMs: {
    variable: "HERALD_OFFLINE_RETENTION_MS",
    fallback: 30 * DAY_MS,
    min: 60_000,
    max: 3650 * DAY_MS,
  },
  userRate: { variable: "HERALD_USER_RATE", fallback: 100, min: 1, max: 1_000_000 },
  channelEventsMaxMembers: { variable: "CHANNEL_EVENTS_MAX_MEMBERS", fallback: 500, min: 1, max: 1_000_000 },
  channelIntervalMs: { variable: "CHANNEL_INTERVAL_MS", fallback: 2000, min: 100, max: 60_000 },
  clientRate: { variable: "HERALD_CLIENT_RATE", fallback: 5000, min: 1, max: 10_000_000 },
} as const satisfies Record<string, IntSpec>;

/** Reads `host:port` (IPv6 hosts in brackets); undefined for `off` (and for unset when `fallback` is). */
function readAddress(
  env: Env,
  variable: string,
  fallback: string | undefined,
  problems: ConfigProblem[],
): ListenAddress | undefined {
  const raw = env[variable]?.trim() || fallback;
  if (raw === undefined || raw.toLowerCase() === "off") return undefined;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(raw);
  const port = m === null ? Number.NaN : Number(m[3]);
  if (m === null || port > 65535) {
    problems.push({
      variable,
      message: `must be host:port (port 0 to 65535; [::1]:port for IPv6) or off, got ${JSON.stringify(raw)}`,
    });
    return undefined;
  }
  const host = (m[1] ?? m[2]) as string;
  const loopback = host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
  return { host, port, loopback };
}

/** The client token settings; secrets are never repeated in a message. */
function readClientTokens(env: Env, problems: ConfigProblem[]): ClientTokenConfig {
  const text = (variable: string) => {
    const v = env[variable];
    return v === undefined || v.trim() === "" ? undefined : v;
  };
  const hmacSecret = text("CLIENT_TOKEN_HMAC_SECRET");
  if (hmacSecret !== undefined && new TextEncoder().encode(hmacSecret).length < 32) {
    problems.push({
      variable: "CLIENT_TOKEN_HMAC_SECRET",
      message: "must be at least 32 bytes (256 bits) long",
    });
  }
  const publicKey = text("CLIENT_TOKEN_PUBLIC_KEY")?.replace(/\\n/g, "\n").trim();
  if (
    publicKey !== undefined &&
    !/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----$/.test(publicKey)
  ) {
    problems.push({
      variable: "CLIENT_TOKEN_PUBLIC_KEY",
      message:
        "must be a PEM public key (-----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----; \\n for line breaks is accepted)",
    });
  }
  const insecureRaw = (env.CLIENT_INSECURE?.trim() || "false").toLowerCase();
  if (insecureRaw !== "true" && insecureRaw !== "false") {
    problems.push({
      variable: "CLIENT_INSECURE",
      message: `must be true or false, got ${JSON.stringify(env.CLIENT_INSECURE)}`,
    });
  }
  return {
    hmacSecret,
    publicKey,
    issuer: text("CLIENT_TOKEN_ISSUER")?.trim(),
    audience: text("CLIENT_TOKEN_AUDIENCE")?.trim(),
    insecure: insecureRaw === "true",
  };
}

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";
// The Node transport speaks the NATS protocol over TCP (optionally TLS), not WebSocket.
const NATS_SCHEMES = new Set(["nats:", "tls:"]);

function readInt(env: Env, spec: IntSpec, problems: ConfigProblem[]): number {
  const raw = env[spec.variable];
  if (raw === undefined || raw.trim() === "") return spec.fallback;
  const text = raw.trim();
  const value = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < spec.min || value > spec.max) {
    problems.push({
      variable: spec.variable,
      message: `must be an integer from ${spec.min} to ${spec.max}, got ${JSON.stringify(raw)}`,
    });
    return spec.fallback;
  }
  return value;
}

/** A NATS_URL (one or several entries) with every `user:pass@` masked, for messages and logs. */
export function redactNatsUrl(value: string): string {
  return value
    .split(",")
    .map((item) => item.replace(/^(\s*[a-z]+:\/\/)?[^@/]*@/i, "$1***@"))
    .join(",");
}

const redact = (value: string): string => JSON.stringify(redactNatsUrl(value));

function readNats(env: Env, problems: ConfigProblem[]): NatsConfig {
  const raw = env.NATS_URL?.trim() || DEFAULT_NATS_URL;
  const servers: string[] = [];
  let credentials: { user: string; pass: string } | undefined;
  const bad = (message: string) => problems.push({ variable: "NATS_URL", message });
  for (const part of raw.split(",")) {
    const item = part.trim();
    if (item === "") {
      bad(`has an empty entry in ${redact(raw)}; expected comma-separated nats://host:port URLs`);
      continue;
    }
    let url: URL;
    try {
      url = new URL(item.includes("://") ? item : `nats://${item}`);
    } catch {
      bad(`${redact(item)} is not a URL; expected nats://[user:pass@]host:port`);
      continue;
    }
    if (!NATS_SCHEMES.has(url.protocol)) {
      bad(`${redact(item)} has scheme ${url.protocol}; expected nats or tls`);
      continue;
    }
    if (url.hostname === "") {
      bad(`${redact(item)} has no host`);
      continue;
    }
    if (url.username !== "") {
      let found: { user: string; pass: string };
      try {
        found = { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) };
      } catch {
        // Not naming the credentials: they do not belong in a log.
        bad(`the user:pass of server ${url.host} is not valid percent-encoding (write % as %25)`);
        continue;
      }
      if (credentials !== undefined && (credentials.user !== found.user || credentials.pass !== found.pass)) {
        bad("gives different user:pass for different servers; one connection uses one set of credentials");
        continue;
      }
      credentials = found;
    }
    url.username = "";
    url.password = "";
    servers.push(`${url.protocol}//${url.host}`);
  }
  return credentials === undefined ? { servers } : { servers, ...credentials };
}

/**
 * Reads and validates the configuration. Throws {@link ConfigError} naming every invalid
 * variable with its accepted range; the result is deeply frozen.
 */
export function loadConfig(env: Env): Config {
  const problems: ConfigProblem[] = [];
  const ints = {} as { -readonly [K in keyof typeof INT_VARIABLES]: number };
  for (const key of Object.keys(INT_VARIABLES) as (keyof typeof INT_VARIABLES)[]) {
    ints[key] = readInt(env, INT_VARIABLES[key], problems);
  }
  if (ints.ttlMs > ints.maxTtlMs) {
    problems.push({
      variable: "PRESENCE_TTL_MS",
      message: `must not exceed PRESENCE_MAX_TTL_MS (${ints.maxTtlMs}), got ${ints.ttlMs}`,
    });
  }
  const level = (env.LOG_LEVEL?.trim() || "info").toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    problems.push({
      variable: "LOG_LEVEL",
      message: `must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(env.LOG_LEVEL)}`,
    });
  }
  const format = (env.LOG_FORMAT?.trim() || "auto").toLowerCase();
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    problems.push({
      variable: "LOG_FORMAT",
      message: `must be one of ${LOG_FORMATS.join(", ")}, got ${JSON.stringify(env.LOG_FORMAT)}`,
    });
  }
  const nats = readNats(env, problems);
  const httpAddr = readAddress(env, "HTTP_ADDR", DEFAULT_HTTP_ADDR, problems);
  const metricsAddr = readAddress(env, "METRICS_ADDR", undefined, problems);
  const rawKey = env.HTTP_API_KEY;
  const httpApiKey = rawKey === undefined || rawKey === "" ? undefined : rawKey;
  if (httpApiKey !== undefined && !/^[\x21-\x7e]{16,512}$/.test(httpApiKey)) {
    // Not echoing the key: it does not belong in a log.
    problems.push({
      variable: "HTTP_API_KEY",
      message: "must be 16 to 512 printable ASCII characters without spaces",
    });
  }
  const clientTokens = readClientTokens(env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    nats: Object.freeze({ ...nats, servers: Object.freeze([...nats.servers]) }),
    ...ints,
    logLevel: level as LogLevel,
    logFormat: format as LogFormat,
    httpAddr: httpAddr === undefined ? undefined : Object.freeze(httpAddr),
    httpApiKey,
    metricsAddr: metricsAddr === undefined ? undefined : Object.freeze(metricsAddr),
    clientTokens: Object.freeze(clientTokens),
  });
}
