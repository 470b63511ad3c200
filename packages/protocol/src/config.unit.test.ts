import { describe, expect, it } from "vitest";
import {
  DEFAULT_NATS_URL,
  type Env,
  INT_VARIABLES,
  LOG_LEVELS,
  loadConfig,
  redactNatsUrl,
} from "./config.js";
import { ConfigError } from "./errors.js";

type IntSpec = { readonly variable: string; readonly min: number; readonly max: number };

function configError(env: Env): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`loadConfig(${JSON.stringify(env)}) did not throw`);
}

describe("loadConfig defaults (CONTRACT §2)", () => {
  it("uses the documented defaults for an empty environment", () => {
    const config = loadConfig({});
    expect(DEFAULT_NATS_URL).toBe("nats://127.0.0.1:4222");
    expect(config.nats.servers).toEqual(["nats://127.0.0.1:4222"]);
    expect(config.nats.user).toBeUndefined();
    expect(config.nats.pass).toBeUndefined();
    expect(config.ttlMs).toBe(30_000);
    expect(config.maxTtlMs).toBe(3_600_000);
    expect(config.graceMs).toBe(5000);
    expect(config.awayAfterMs).toBe(300_000);
    expect(config.logLevel).toBe("info");
    expect(config.logFormat).toBe("auto");
    expect(config.partitions).toBe(16);
    expect(config.replicas).toBe(1);
    expect(config.eventsMaxAgeMs).toBe(7 * 86_400_000);
    expect(config.snapshotIntervalMs).toBe(60_000);
    expect(config.leaseTtlMs).toBe(5000);
    expect(config.maxConnsPerUser).toBe(16);
    expect(config.maxChannelsPerConn).toBe(16);
    expect(config.offlineRetentionMs).toBe(30 * 86_400_000);
    expect(config.userRate).toBe(100);
    expect(config.clientRate).toBe(5000);
    expect(config.httpAddr).toEqual({ host: "127.0.0.1", port: 8000, loopback: true });
    expect(config.httpApiKey).toBeUndefined();
    expect(config.metricsAddr).toBeUndefined();
    expect(config.channelEventsMaxMembers).toBe(500);
    expect(config.channelIntervalMs).toBe(2000);
    expect(config.clientTokens).toEqual({
      hmacSecret: undefined,
      publicKey: undefined,
      issuer: undefined,
      audience: undefined,
      insecure: false,
    });
  });

  it("treats empty and blank values as unset", () => {
    const env: Record<string, string> = { NATS_URL: "", LOG_LEVEL: "  ", LOG_FORMAT: "" };
    for (const spec of Object.values(INT_VARIABLES)) env[spec.variable] = " ";
    expect(loadConfig(env)).toEqual(loadConfig({}));
  });

  it("reads every variable", () => {
    const config = loadConfig({
      NATS_URL: "nats://10.0.0.1:4333",
      PRESENCE_TTL_MS: "15000",
      PRESENCE_MAX_TTL_MS: "60000",
      PRESENCE_GRACE_MS: "0",
      PRESENCE_AWAY_AFTER_MS: "1000",
      LOG_LEVEL: " DEBUG ",
      LOG_FORMAT: "json",
      HERALD_PARTITIONS: "1024",
      HERALD_REPLICAS: " 3 ",
      HERALD_EVENTS_MAX_AGE_MS: "60000",
      HERALD_SNAPSHOT_INTERVAL_MS: "1000",
      HERALD_LEASE_TTL_MS: "2000",
      HERALD_MAX_CONNS_PER_USER: "5",
      HERALD_MAX_CHANNELS_PER_CONN: "6",
      HERALD_OFFLINE_RETENTION_MS: "3600000",
      HERALD_USER_RATE: "7",
      HERALD_CLIENT_RATE: "8",
      HTTP_ADDR: "0.0.0.0:8001",
      HTTP_API_KEY: "an-api-key-of-24-chars!!",
      METRICS_ADDR: "127.0.0.1:9101",
      CHANNEL_EVENTS_MAX_MEMBERS: "50",
      CHANNEL_INTERVAL_MS: "500",
      CLIENT_TOKEN_HMAC_SECRET: "s".repeat(32),
      CLIENT_TOKEN_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----",
      CLIENT_TOKEN_ISSUER: "https://app.example",
      CLIENT_TOKEN_AUDIENCE: "herald",
      CLIENT_INSECURE: "TRUE",
    });
    expect(config).toEqual({
      nats: { servers: ["nats://10.0.0.1:4333"] },
      ttlMs: 15_000,
      maxTtlMs: 60_000,
      graceMs: 0,
      awayAfterMs: 1000,
      logLevel: "debug",
      logFormat: "json",
      partitions: 1024,
      replicas: 3,
      eventsMaxAgeMs: 60_000,
      snapshotIntervalMs: 1000,
      leaseTtlMs: 2000,
      maxConnsPerUser: 5,
      maxChannelsPerConn: 6,
      offlineRetentionMs: 3_600_000,
      userRate: 7,
      clientRate: 8,
      httpAddr: { host: "0.0.0.0", port: 8001, loopback: false },
      httpApiKey: "an-api-key-of-24-chars!!",
      metricsAddr: { host: "127.0.0.1", port: 9101, loopback: true },
      channelEventsMaxMembers: 50,
      channelIntervalMs: 500,
      clientTokens: {
        hmacSecret: "s".repeat(32),
        publicKey: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        issuer: "https://app.example",
        audience: "herald",
        insecure: true,
      },
    });
  });

  it("accepts every log level", () => {
    for (const level of LOG_LEVELS) expect(loadConfig({ LOG_LEVEL: level }).logLevel).toBe(level);
  });

  it("accepts the range bounds of every integer variable", () => {
    for (const [key, spec] of Object.entries(INT_VARIABLES) as [keyof typeof INT_VARIABLES, IntSpec][]) {
      for (const value of [spec.min, spec.max]) {
        const env: Record<string, string> = { [spec.variable]: String(value) };
        // Keep the TTL ≤ MAX_TTL rule out of the way of this test.
        if (spec.variable === "PRESENCE_TTL_MS") env.PRESENCE_MAX_TTL_MS = String(spec.max);
        if (spec.variable === "PRESENCE_MAX_TTL_MS") env.PRESENCE_TTL_MS = String(spec.min);
        expect(loadConfig(env)[key]).toBe(value);
      }
    }
  });
});

describe("loadConfig result", () => {
  it("is deeply frozen", () => {
    const config = loadConfig({ NATS_URL: "nats://u:p@a:4222,nats://b:4222" });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.nats)).toBe(true);
    expect(Object.isFrozen(config.nats.servers)).toBe(true);
    expect(() => {
      (config as unknown as { ttlMs: number }).ttlMs = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.nats as unknown as { user: string }).user = "mallory";
    }).toThrow(TypeError);
    expect(() => {
      (config.nats.servers as string[]).push("nats://evil:4222");
    }).toThrow(TypeError);
    expect(config.ttlMs).toBe(30_000);
    expect(config.nats.user).toBe("u");
    expect(config.nats.servers).toHaveLength(2);
  });
});

describe("loadConfig errors", () => {
  const intCases = Object.values(INT_VARIABLES).flatMap((spec) =>
    [
      "abc",
      "1.5",
      "1e3",
      "0x10",
      "12ms",
      "-1",
      String(spec.min - 1),
      String(spec.max + 1),
      "9".repeat(30),
    ].map((raw) => [spec.variable, raw, spec.min, spec.max] as const),
  );

  it.each(intCases)("rejects %s=%j naming the variable and its range", (variable, raw, min, max) => {
    const err = configError({ [variable]: raw });
    expect(err.name).toBe("ConfigError");
    expect(err.problems.map((p) => p.variable)).toContain(variable);
    expect(err.message).toContain(variable);
    expect(err.message).toContain(`from ${min} to ${max}`);
    expect(err.message).toContain(JSON.stringify(raw));
  });

  it("rejects an unknown log level, listing the accepted ones", () => {
    const err = configError({ LOG_LEVEL: "verbose" });
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]?.variable).toBe("LOG_LEVEL");
    expect(err.message).toContain("LOG_LEVEL");
    expect(err.message).toContain("fatal, error, warn, info, debug, trace, silent");
    expect(err.message).toContain('"verbose"');
  });

  it("rejects an unknown log format, listing the accepted ones", () => {
    const err = configError({ LOG_FORMAT: "xml" });
    expect(err.problems.map((p) => p.variable)).toEqual(["LOG_FORMAT"]);
    expect(err.message).toContain("auto, pretty, json");
  });

  it.each([
    ["http://127.0.0.1:4222", /scheme http:/],
    ["https://example.com", /scheme https:/],
    ["nats://a:4222,,nats://b:4222", /empty entry/],
    ["nats://a:4222,", /empty entry/],
    [",", /empty entry/],
    ["nats://exa mple:4222", /not a URL/],
    ["nats://host:99999", /not a URL/],
    ["nats://u:p%zz@host:4222", /not valid percent-encoding/],
  ])("rejects NATS_URL=%j", (raw, reason) => {
    const err = configError({ NATS_URL: raw });
    expect(err.problems.length).toBeGreaterThan(0);
    expect(err.problems.every((p) => p.variable === "NATS_URL")).toBe(true);
    expect(err.message).toContain("NATS_URL");
    expect(err.message).toMatch(reason);
  });

  it("does not echo badly encoded credentials", () => {
    const err = configError({ NATS_URL: "nats://alice:p%zzword@host:4222" });
    expect(err.message).not.toContain("p%zzword");
    expect(err.message).toContain("host:4222");
  });

  it("reports every bad value at once", () => {
    const err = configError({
      PRESENCE_TTL_MS: "soon",
      PRESENCE_GRACE_MS: "-5",
      HERALD_PARTITIONS: "0",
      HERALD_REPLICAS: "7",
      LOG_LEVEL: "loud",
      NATS_URL: "http://x:1",
    });
    expect(err.problems.map((p) => p.variable).sort()).toEqual(
      [
        "HERALD_PARTITIONS",
        "HERALD_REPLICAS",
        "LOG_LEVEL",
        "NATS_URL",
        "PRESENCE_GRACE_MS",
        "PRESENCE_TTL_MS",
      ].sort(),
    );
    for (const problem of err.problems) {
      expect(err.message).toContain(`${problem.variable}: ${problem.message}`);
    }
    expect(err.message).toContain("from 1 to 1024");
    expect(err.message).toContain("from 1 to 5");
    expect(err.message).toContain("from 0 to 3600000");
  });

  it("rejects PRESENCE_TTL_MS above PRESENCE_MAX_TTL_MS", () => {
    const err = configError({ PRESENCE_TTL_MS: "60001", PRESENCE_MAX_TTL_MS: "60000" });
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]?.variable).toBe("PRESENCE_TTL_MS");
    expect(err.message).toContain("PRESENCE_MAX_TTL_MS");
    expect(err.message).toContain("60000");
    // The default TTL (30 s) must fit under a configured maximum too.
    expect(configError({ PRESENCE_MAX_TTL_MS: "20000" }).message).toContain("PRESENCE_TTL_MS");
    const equal = loadConfig({ PRESENCE_TTL_MS: "60000", PRESENCE_MAX_TTL_MS: "60000" });
    expect(equal.ttlMs).toBe(equal.maxTtlMs);
  });
});

describe("NATS_URL", () => {
  it("never repeats credentials in an error message", () => {
    for (const raw of [
      "http://alice:s3cret@host:4222",
      "nats://alice:s3cret@",
      "nats://alice:s3cret@h:1,,",
      "nats://a:4222,,nats://bob:s3cret@b:4222",
      "nats://a:1,ftp://bob:s3cret@b:2",
      "nats://a:s3cret@h:1,nats://b:other@h:2",
    ]) {
      expect(() => loadConfig({ NATS_URL: raw })).toThrow(ConfigError);
      try {
        loadConfig({ NATS_URL: raw });
      } catch (err) {
        expect((err as Error).message).toContain("NATS_URL");
        expect((err as Error).message).not.toContain("s3cret");
      }
    }
  });

  it("parses a comma-separated list with credentials into servers plus user/pass", () => {
    const config = loadConfig({
      NATS_URL: "nats://alice:s3cret@n1:4222, nats://alice:s3cret@n2:4223 ,tls://n3",
    });
    expect(config.nats.servers).toEqual(["nats://n1:4222", "nats://n2:4223", "tls://n3"]);
    expect(config.nats.user).toBe("alice");
    expect(config.nats.pass).toBe("s3cret");
    for (const server of config.nats.servers) {
      expect(server).not.toContain("alice");
      expect(server).not.toContain("s3cret");
      expect(server).not.toContain("@");
    }
  });

  it("refuses WebSocket URLs, which the Node transport does not speak", () => {
    expect(() => loadConfig({ NATS_URL: "ws://b:2" })).toThrow(
      /NATS_URL: "ws:\/\/b:2" has scheme ws:; expected nats or tls/,
    );
  });

  it("refuses different credentials for different servers", () => {
    expect(() => loadConfig({ NATS_URL: "nats://a:x@h:1,nats://b:y@h:2" })).toThrow(/different user:pass/);
  });

  it("masks every entry's credentials with redactNatsUrl", () => {
    expect(redactNatsUrl("nats://a:x@h:1, tls://b:y@h:2,h:3")).toBe("nats://***@h:1, tls://***@h:2,h:3");
  });

  it("percent-decodes credentials", () => {
    const config = loadConfig({ NATS_URL: "nats://al%40ice:p%3Aw%25d@host:4222" });
    expect(config.nats.user).toBe("al@ice");
    expect(config.nats.pass).toBe("p:w%d");
    expect(config.nats.servers).toEqual(["nats://host:4222"]);
  });

  it("accepts a user without a password", () => {
    const config = loadConfig({ NATS_URL: "nats://token@host:4222" });
    expect(config.nats.user).toBe("token");
    expect(config.nats.pass).toBe("");
  });

  it("accepts host:port without a scheme, nats:// and tls://", () => {
    const config = loadConfig({ NATS_URL: "127.0.0.1:4222,tls://a:1,nats://[::1]:4222" });
    expect(config.nats.servers).toEqual(["nats://127.0.0.1:4222", "tls://a:1", "nats://[::1]:4222"]);
    expect(config.nats.user).toBeUndefined();
    expect("user" in config.nats).toBe(false);
  });
});

describe("HTTP_ADDR, METRICS_ADDR and HTTP_API_KEY (CONTRACT §2)", () => {
  it("reads host:port, IPv6 in brackets, port 0, and off", () => {
    expect(loadConfig({ HTTP_ADDR: "0.0.0.0:8080" }).httpAddr).toEqual({
      host: "0.0.0.0",
      port: 8080,
      loopback: false,
    });
    expect(loadConfig({ HTTP_ADDR: "[::1]:0" }).httpAddr).toEqual({ host: "::1", port: 0, loopback: true });
    expect(loadConfig({ HTTP_ADDR: "localhost:9" }).httpAddr?.loopback).toBe(true);
    expect(loadConfig({ HTTP_ADDR: "127.0.0.2:9" }).httpAddr?.loopback).toBe(true);
    expect(loadConfig({ HTTP_ADDR: "herald.example:9" }).httpAddr?.loopback).toBe(false);
    expect(loadConfig({ HTTP_ADDR: "off" }).httpAddr).toBeUndefined();
    expect(loadConfig({ HTTP_ADDR: "OFF" }).httpAddr).toBeUndefined();
    expect(loadConfig({ METRICS_ADDR: "127.0.0.1:9100" }).metricsAddr).toEqual({
      host: "127.0.0.1",
      port: 9100,
      loopback: true,
    });
  });

  it.each(["8000", ":8000", "127.0.0.1", "127.0.0.1:65536", "127.0.0.1:-1", "http://x:1", "::1:80", "a b:1"])(
    "refuses HTTP_ADDR and METRICS_ADDR %j, naming the variable",
    (value) => {
      expect(configError({ HTTP_ADDR: value }).message).toMatch(/HTTP_ADDR.*host:port/);
      expect(configError({ METRICS_ADDR: value }).message).toMatch(/METRICS_ADDR.*host:port/);
    },
  );

  it("takes an API key of 16 or more printable characters and never echoes a bad one", () => {
    expect(loadConfig({ HTTP_API_KEY: "0123456789abcdef" }).httpApiKey).toBe("0123456789abcdef");
    expect(loadConfig({ HTTP_API_KEY: "" }).httpApiKey).toBeUndefined();
    for (const bad of ["short-key", "has a space in the middle", "tab\there-0123456789", "x".repeat(513)]) {
      const message = configError({ HTTP_API_KEY: bad }).message;
      expect(message).toMatch(/HTTP_API_KEY/);
      expect(message).not.toContain(bad);
    }
  });
});

describe("client tokens (CONTRACT §2, §8)", () => {
  it("refuses a short HMAC secret, a public key that is not PEM and an insecure flag that is not a boolean, echoing no secret", () => {
    const secret = "too-short-secret";
    const message = configError({
      CLIENT_TOKEN_HMAC_SECRET: secret,
      CLIENT_TOKEN_PUBLIC_KEY: "ssh-rsa AAAA",
      CLIENT_INSECURE: "yes",
    }).message;
    expect(message).toMatch(/CLIENT_TOKEN_HMAC_SECRET: must be at least 32 bytes/);
    expect(message).toMatch(/CLIENT_TOKEN_PUBLIC_KEY: must be a PEM public key/);
    expect(message).toMatch(/CLIENT_INSECURE: must be true or false/);
    expect(message).not.toContain(secret);
    expect(message).not.toContain("AAAA");
  });
});
