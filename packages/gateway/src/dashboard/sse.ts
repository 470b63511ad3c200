/**
 * One page's server-sent-events stream (`text/event-stream`) on a hijacked fastify reply. A page
 * that does not read fast enough misses ticks (the next one supersedes them) and event batches
 * (counted as dropped in the next batch it gets), rather than growing the gateway's buffers.
 */
import type { ServerResponse } from "node:http";
import { type EventBatch, streamEvents, type Tick } from "@herald/dashboard";

export class EventStream {
  readonly #res: ServerResponse;
  #congested = false;
  #dropped = 0;

  constructor(res: ServerResponse) {
    this.#res = res;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
      "x-content-type-options": "nosniff",
    });
    res.on("drain", () => {
      this.#congested = false;
    });
  }

  get open(): boolean {
    return !this.#res.writableEnded && !this.#res.destroyed;
  }

  send(event: string, data: unknown): void {
    if (!this.open) return;
    // One `data:` line: JSON.stringify escapes every newline.
    if (!this.#res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)) this.#congested = true;
  }

  tick(t: Tick): void {
    if (!this.#congested) this.send(streamEvents.tick, t);
  }

  events(b: EventBatch): void {
    if (this.#congested) {
      this.#dropped += b.events.length + b.dropped;
      return;
    }
    this.send(streamEvents.events, { events: b.events, dropped: b.dropped + this.#dropped });
    this.#dropped = 0;
  }

  end(): void {
    if (this.open) this.#res.end();
  }
}
