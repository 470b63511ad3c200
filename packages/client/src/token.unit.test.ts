import { describe, expect, it } from "vitest";
import { makeToken } from "../test-support/fake-server.js";
import { refreshDelayMs, tokenExpiryMs } from "./token.js";

describe("tokenExpiryMs", () => {
  it("reads exp (seconds) from the base64url payload, as milliseconds", () => {
    expect(tokenExpiryMs(makeToken("u1", 1_700_000_123_000))).toBe(1_700_000_123_000);
    // base64url characters (- and _) and a non-ASCII subject decode too.
    expect(tokenExpiryMs(makeToken("üser?>>~~", 2_000_000_000_000, { pad: "??>>" }))).toBe(2_000_000_000_000);
  });

  it("is undefined for a token without a readable exp", () => {
    const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    expect(tokenExpiryMs("opaque-token")).toBeUndefined();
    expect(tokenExpiryMs("a..c")).toBeUndefined();
    expect(tokenExpiryMs("a.%%%.c")).toBeUndefined();
    expect(tokenExpiryMs(`a.${b64url({ sub: "u" })}.c`)).toBeUndefined();
    expect(tokenExpiryMs(`a.${b64url({ exp: "soon" })}.c`)).toBeUndefined();
    expect(tokenExpiryMs(`a.${b64url([1])}.c`)).toBeUndefined();
  });
});

describe("refreshDelayMs", () => {
  it("refreshes at 90% of the remaining lifetime", () => {
    expect(refreshDelayMs(1_000_000 + 60_000, 1_000_000)).toBe(54_000);
    expect(refreshDelayMs(3_600_000, 0)).toBe(3_240_000);
  });

  it("but at least 5 s before expiry", () => {
    expect(refreshDelayMs(10_000, 0)).toBe(5000);
    expect(refreshDelayMs(50_000, 0)).toBe(45_000);
  });

  it("at once when that moment has passed", () => {
    expect(refreshDelayMs(4000, 0)).toBe(0);
    expect(refreshDelayMs(0, 10_000)).toBe(0);
  });
});
