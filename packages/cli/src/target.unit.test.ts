import { describe, expect, it } from "vitest";
import { UsageError } from "./errors.js";
import {
  DEFAULT_SERVER,
  describeTarget,
  parseEnvFile,
  parseServers,
  redact,
  resolveTarget,
} from "./target.js";

const FILE = {
  path: "/repo/.data/credentials.env",
  text: "# herald\nHERALD_CLIENT_PASSWORD=cpass\nHERALD_ADMIN_PASSWORD='apass'\nHERALD_PRESENCE_ACTOR_PASSWORD=x\n",
};

describe("parseServers", () => {
  it("splits servers and takes credentials out of the URL", () => {
    expect(parseServers("nats://client:s%40cret@127.0.0.1:4222,127.0.0.1:4223")).toEqual({
      servers: ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"],
      user: "client",
      pass: "s@cret",
    });
    expect(parseServers("tls://nats.example:4222")).toEqual({ servers: ["tls://nats.example:4222"] });
  });

  it("names what is wrong without printing a password", () => {
    expect(() => parseServers("http://a:secret@x:1")).toThrow(/scheme http:; expected nats or tls/);
    expect(() => parseServers("http://a:secret@x:1")).not.toThrow(/secret/);
    expect(() => parseServers("nats://a:1,,b:2")).toThrow(UsageError);
    expect(redact("nats://u:p@h:1")).toBe("nats://***@h:1");
  });
});

describe("resolveTarget", () => {
  it("defaults to the local server with no user", () => {
    expect(resolveTarget({}, {}, "client")).toEqual({ servers: [DEFAULT_SERVER] });
  });

  it("takes flags over the environment over the URL", () => {
    const env = { NATS_URL: "nats://urluser:urlpass@h:1", NATS_USER: "envuser", NATS_PASSWORD: "envpass" };
    expect(resolveTarget({ user: "flaguser", password: "flagpass" }, env, "client")).toMatchObject({
      servers: ["nats://h:1"],
      user: "flaguser",
      pass: "flagpass",
    });
    expect(resolveTarget({}, env, "client")).toMatchObject({ user: "envuser", pass: "envpass" });
    expect(resolveTarget({}, { NATS_URL: env.NATS_URL }, "client")).toMatchObject({
      user: "urluser",
      pass: "urlpass",
    });
    expect(resolveTarget({ server: "nats://other:2" }, env, "client").servers).toEqual(["nats://other:2"]);
  });

  it("does not give the URL's password to another user", () => {
    const t = resolveTarget({ user: "admin" }, { NATS_URL: "nats://client:cpass@h:1" }, "admin");
    expect(t.user).toBe("admin");
    expect(t.pass).toBeUndefined();
  });

  it("takes a missing password, and the usual user, from the credentials file", () => {
    expect(resolveTarget({}, {}, "client", FILE)).toMatchObject({
      user: "client",
      pass: "cpass",
      passwordFrom: FILE.path,
    });
    expect(resolveTarget({}, {}, "admin", FILE)).toMatchObject({
      user: "admin",
      pass: "apass",
      inboxPrefix: "_INBOX_admin",
    });
    expect(resolveTarget({ user: "presence-actor" }, {}, "client", FILE)).toMatchObject({ pass: "x" });
    expect(resolveTarget({ password: "given" }, {}, "client", FILE)).toEqual({
      servers: [DEFAULT_SERVER],
      pass: "given",
    });
  });

  it("uses the admin inbox prefix for admin commands unless told otherwise", () => {
    expect(resolveTarget({ user: "admin", password: "p" }, {}, "admin").inboxPrefix).toBe("_INBOX_admin");
    expect(resolveTarget({ user: "admin", password: "p", inboxPrefix: "_X" }, {}, "admin").inboxPrefix).toBe(
      "_X",
    );
    expect(resolveTarget({ user: "client", password: "p" }, {}, "client").inboxPrefix).toBeUndefined();
  });

  it("describes a target without its password", () => {
    const t = resolveTarget({ user: "client", password: "secret" }, {}, "client");
    expect(describeTarget(t)).toBe("nats://127.0.0.1:4222 as client");
  });
});

describe("parseEnvFile", () => {
  it("reads KEY=value lines, quotes removed, comments skipped", () => {
    const vars = parseEnvFile('A=1\n# c\nexport B="two words"\n\nnot a line\nC=\n');
    expect([...vars]).toEqual([
      ["A", "1"],
      ["B", "two words"],
      ["C", ""],
    ]);
  });
});
