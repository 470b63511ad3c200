/**
 * Subject tokens (CONTRACT.md §3): every byte of an id's UTF-8 form outside `[A-Za-z0-9_-]`
 * becomes `=` followed by two uppercase hex digits. The result is a valid NATS subject token
 * and KV key segment for any id, and the mapping is reversible.
 */

import { InvalidTokenError } from "./errors.js";

const HEX = "0123456789ABCDEF";
const utf8 = new TextEncoder();
// ignoreBOM: a leading U+FEFF is part of the id, not a byte-order mark to strip.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** True when the UTF-16 code unit is one of `[A-Za-z0-9_-]`, which pass through unchanged. */
function isPlain(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x5f || // _
    c === 0x2d // -
  );
}

/** Encodes an id (user, conn, channel) as a subject token. */
export function encodeToken(id: string): string {
  let i = 0;
  while (i < id.length && isPlain(id.charCodeAt(i))) i++;
  if (i === id.length) return id;
  let out = id.slice(0, i);
  for (const byte of utf8.encode(id.slice(i))) {
    out += isPlain(byte) ? String.fromCharCode(byte) : `=${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * Decodes a token back to its id. Only canonical tokens are accepted (the output of
 * {@link encodeToken}): a `=XX` escape of a plain byte, lowercase hex or bytes that are not
 * UTF-8 throw {@link InvalidTokenError}.
 */
export function decodeToken(token: string): string {
  if (token.indexOf("=") === -1) {
    for (let i = 0; i < token.length; i++) {
      if (!isPlain(token.charCodeAt(i))) throw new InvalidTokenError(token);
    }
    return token;
  }
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c === 0x3d) {
      const hi = hexValue(token.charCodeAt(i + 1));
      const lo = hexValue(token.charCodeAt(i + 2));
      const byte = hi * 16 + lo;
      if (hi < 0 || lo < 0 || isPlain(byte)) throw new InvalidTokenError(token);
      bytes.push(byte);
      i += 2;
    } else if (isPlain(c)) {
      bytes.push(c);
    } else {
      throw new InvalidTokenError(token);
    }
  }
  try {
    return strictUtf8.decode(new Uint8Array(bytes));
  } catch {
    throw new InvalidTokenError(token);
  }
}
