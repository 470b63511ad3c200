/**
 * The HTTP API key (CONTRACT.md §7): `X-API-Key: <key>` or `Authorization: apikey <key>`, and on
 * the Centrifugo routes also `?api_key=<key>`, as Centrifugo takes it. Compared in constant time
 * (digests of equal length), so the time of a refusal says nothing about the key.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

/** The key a request presents, if any. */
export function presentedKey(headers: IncomingHttpHeaders, query: string | undefined): string | undefined {
  const header = headers["x-api-key"]?.toString().trim();
  // An empty X-API-Key is no key: Authorization is looked at then, as Centrifugo does.
  if (header !== undefined && header !== "") return header;
  const auth = headers.authorization;
  if (typeof auth === "string") {
    const m = /^apikey\s+(.+)$/i.exec(auth.trim());
    if (m !== null) return (m[1] as string).trim();
  }
  return query;
}

export class ApiKey {
  readonly #expected: Buffer;

  constructor(key: string) {
    this.#expected = digest(key);
  }

  matches(presented: string | undefined): boolean {
    // A missing key is compared too: no early answer for it either.
    return timingSafeEqual(digest(presented ?? ""), this.#expected) && presented !== undefined;
  }
}
