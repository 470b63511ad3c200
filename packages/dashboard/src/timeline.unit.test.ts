import type { PresenceEvent } from "@herald/contract";
import { describe, expect, it } from "vitest";
import { segments } from "./timeline.js";

const status = (at_ms: number, prev: string, to: string) =>
  ({ type: "status", user: "u", status: to, prev, at_ms }) as PresenceEvent;

describe("a user's timeline", () => {
  it("runs from the window's start to now, the status before the first event being its prev", () => {
    expect(segments([status(30, "offline", "online"), status(60, "online", "away")], 0, 100, "away")).toEqual(
      [
        { status: "offline", from_ms: 0, to_ms: 30 },
        { status: "online", from_ms: 30, to_ms: 60 },
        { status: "away", from_ms: 60, to_ms: 100 },
      ],
    );
  });

  it("is the current status throughout with no event, and merges equal neighbours", () => {
    expect(segments([], 0, 100, "online")).toEqual([{ status: "online", from_ms: 0, to_ms: 100 }]);
    expect(
      segments([status(10, "online", "online"), status(20, "online", "offline")], 0, 50, "offline"),
    ).toEqual([
      { status: "online", from_ms: 0, to_ms: 20 },
      { status: "offline", from_ms: 20, to_ms: 50 },
    ]);
  });
});
