/** The public JSON codec: requests, replies, live events and `presence_status` values. */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const json = {
  encode(value: unknown): Uint8Array {
    return encoder.encode(JSON.stringify(value));
  },
  /** Parses UTF-8 JSON; throws SyntaxError on bad input. */
  decode(bytes: Uint8Array): unknown {
    return JSON.parse(decoder.decode(bytes));
  },
};
