import { encodeToken } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { CentrifugoCode, centrifugoCode, presenceResult, transportStatus } from "./centrifugo.js";

describe("Centrifugo's codes (CONTRACT.md §7)", () => {
  it.each([
    [400, 107, 400],
    [413, 107, 400],
    [404, 104, 404],
    [409, 113, 409],
    [429, 111, 429],
    [503, 108, 400],
    [500, 100, 500],
  ])("Herald's %i is Centrifugo's %i, HTTP %i in transport mode", (herald, code, status) => {
    expect(centrifugoCode(herald)).toBe(code);
    expect(transportStatus(centrifugoCode(herald))).toBe(status);
  });

  it("401 stays 401", () => {
    expect(transportStatus(CentrifugoCode.Unauthorized)).toBe(401);
  });
});

describe("presenceResult", () => {
  it("keys members by token(user).token(conn), with chan_info only when there is data", () => {
    const m = (user: string, conn: string, data: Record<string, unknown>) => ({
      user,
      conn,
      data,
      joined_at_ms: 1,
      updated_at_ms: 2,
    });
    const client = `${encodeToken("a.b")}.${encodeToken("tab 1")}`;
    expect(presenceResult([m("a.b", "tab 1", { x: 1 }), m("c", "d", {})])).toEqual({
      presence: {
        [client]: { client, user: "a.b", chan_info: { x: 1 } },
        "c.d": { client: "c.d", user: "c" },
      },
    });
  });
});
