/** Size limits of CONTRACT.md §1 and §4, in one place. */
export const limits = {
  /** user and conn ids: UTF-8 bytes. */
  idMaxBytes: 128,
  /** channel names: UTF-8 bytes. */
  channelMaxBytes: 256,
  /** member `data`, as UTF-8 JSON. */
  dataMaxBytes: 4096,
  /** items in one batch (`heartbeats`, `users`). */
  batchMax: 1000,
  /** `limit` of `history`. */
  historyMax: 1000,
  historyDefault: 100,
  /** manual status `text` and `emoji`, UTF-8 bytes. */
  statusTextMaxBytes: 256,
  statusEmojiMaxBytes: 64,
  /** smallest accepted `ttl_ms`; the largest is PRESENCE_MAX_TTL_MS. */
  ttlMinMs: 1000,
  /** one request body (nats.conf's max_payload); larger ones are answered 413 unparsed. */
  requestMaxBytes: 1024 * 1024,
  /** member `data`: objects and arrays nested at most this deep. */
  dataMaxDepth: 32,
  /** every time in milliseconds: at most the end of year 9999 (UTC). */
  timeMaxMs: 253_402_300_799_999,
  /** `expires_at_ms` of a manual status: at most this far ahead of the request. */
  manualExpiryMaxAheadMs: 366 * 86_400_000,
  /** the most of a value an error message repeats (longer ones are cut, with …). */
  echoMaxChars: 120,
} as const;

/** `text`, cut to `limits.echoMaxChars` (with …), for messages that repeat what they were sent. */
export function echo(text: string): string {
  return text.length <= limits.echoMaxChars ? text : `${text.slice(0, limits.echoMaxChars - 1)}…`;
}

/**
 * How deep objects and arrays nest in `value` (a plain object counts 1), or -1 when deeper
 * than `max` (walked without recursion, so any depth is safe to measure).
 */
export function jsonDepth(value: unknown, max: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== "object" || v === null) continue;
    if (depth > max) return -1;
    if (depth > deepest) deepest = depth;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return deepest;
}

const utf8 = new TextEncoder();

/** UTF-8 length of `s` without allocating for ASCII. */
export function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) >= 0x80) return utf8.encode(s).length;
  }
  return s.length;
}

/**
 * True for a string of 1..maxBytes UTF-8 bytes with no control character (U+0000–U+001F, U+007F).
 * A lone surrogate has no UTF-8 form (it would be written as U+FFFD), so it is not allowed either.
 */
export function isValidId(s: string, maxBytes: number): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return false;
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = s.charCodeAt(i + 1);
      if (c > 0xdbff || !(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    }
  }
  return utf8Length(s) <= maxBytes;
}
