import { describe, expect, it } from "vitest";
import { SseParser } from "./sse.js";

describe("the page's event-stream parser", () => {
  it("answers whole messages, across chunks and line endings, skipping comments", () => {
    const p = new SseParser();
    expect(p.push(": hi\n\nevent: tick\nda")).toEqual([]);
    expect(p.push('ta: {"a":1}\r\n\r\nevent: events\ndata: x\ndata: y\n')).toEqual([
      { event: "tick", data: '{"a":1}' },
    ]);
    expect(p.push("\ndata:plain\n\n")).toEqual([
      { event: "events", data: "x\ny" },
      { event: "message", data: "plain" },
    ]);
  });
});
