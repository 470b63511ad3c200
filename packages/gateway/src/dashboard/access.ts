/**
 * Who may read the dashboard's data: with HTTP_API_KEY set, requests that carry the key as the
 * HTTP API takes it (`X-API-Key` or `Authorization: apikey`; never in the URL, where it would
 * reach logs and history). The page and its files hold no data and need no key.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Session } from "@herald/dashboard";
import { ApiKey, presentedKey } from "../http/api-key.js";

export class Access {
  readonly #key: ApiKey | undefined;

  constructor(key: string | undefined) {
    this.#key = key === undefined ? undefined : new ApiKey(key);
  }

  allows(headers: IncomingHttpHeaders): boolean {
    return this.#key === undefined || this.#key.matches(presentedKey(headers, undefined));
  }

  session(headers: IncomingHttpHeaders): Session {
    return { key_required: this.#key !== undefined, authorized: this.allows(headers) };
  }
}
