/**
 * A parser of `text/event-stream` (pure, no DOM): the page reads its stream with `fetch` rather
 * than EventSource, which cannot send the API key in a header. Feed it text as it arrives; it
 * answers the complete messages (`event` defaults to `message`; comments are skipped).
 */
export interface SseMessage {
  readonly event: string;
  readonly data: string;
}

export class SseParser {
  #buffer = "";
  #event = "";
  #data: string[] = [];

  push(chunk: string): SseMessage[] {
    this.#buffer += chunk;
    const out: SseMessage[] = [];
    for (;;) {
      const end = this.#buffer.search(/\r\n|\r|\n/);
      if (end < 0) break;
      const line = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + (this.#buffer.startsWith("\r\n", end) ? 2 : 1));
      if (line === "") {
        if (this.#data.length > 0) out.push({ event: this.#event || "message", data: this.#data.join("\n") });
        this.#event = "";
        this.#data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") this.#event = value;
      else if (field === "data") this.#data.push(value);
    }
    return out;
  }
}
