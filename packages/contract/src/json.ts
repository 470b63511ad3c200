/** The public JSON codec: requests, replies, live events and `presence_status` values. */

const encoder = new TextEncoder();
// fatal: bytes that are not UTF-8 are refused, not turned into U+FFFD.
const decoder = new TextDecoder("utf-8", { fatal: true });

export const json = {
  encode(value: unknown): Uint8Array {
    return encoder.encode(JSON.stringify(value));
  },
  /** Parses UTF-8 JSON; throws TypeError on bytes that are not UTF-8, SyntaxError on bad JSON. */
  decode(bytes: Uint8Array): unknown {
    return JSON.parse(decoder.decode(bytes));
  },
};
