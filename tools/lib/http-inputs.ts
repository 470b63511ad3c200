/**
 * Hostile and malformed HTTP requests to the gateway's listener (CONTRACT.md §7), each with
 * what its answer must be. Most wrap an API input of inputs.ts — the same bodies the NATS fuzz
 * sends, so the same oracle judges the body — in HTTP that varies what HTTP adds: the key
 * (header, `Authorization: apikey`, query, wrong, missing), the content type, the error mode
 * (`X-Error-Mode`, `X-Centrifugo-Error-Mode`, junk values), chunked bodies. Then what only HTTP
 * has: `/api/batch` with odd commands, the Centrifugo layer (its methods, batch and the legacy
 * newline-separated endpoint with garbage lines), bodies around 1 MiB, nesting deep enough to
 * break a recursive parser, unknown routes and wrong HTTP methods, and a few requests written
 * byte by byte on a socket of their own (framing the HTTP parser refuses).
 * Used by test/fuzz.test.ts and tools/fuzz.ts; judged by http-oracle.ts.
 */
import fc from "fast-check";
import {
  type ApiInput,
  apiInputs,
  bodyBytes,
  CONTRACT,
  type InputOptions,
  METHODS,
  nestedJson,
} from "./inputs.js";

/** The key the fuzzed gateway runs with (HTTP_API_KEY). */
export const HTTP_FUZZ_KEY = "fuzz-key-0123456789abcdef";

/** Centrifugo methods Herald serves (§7); `presence` has its own result shape. */
export const CENTRIFUGO_PASSED = [
  "update_user_status",
  "get_user_status",
  "delete_user_status",
  "presence_stats",
];
/** Centrifugo server API methods Herald does not serve: error 108. */
export const CENTRIFUGO_NOT_SERVED = [
  "publish",
  "broadcast",
  "subscribe",
  "unsubscribe",
  "disconnect",
  "refresh",
  "history",
  "history_remove",
  "channels",
  "connections",
];

/** Whether the request presents the right key: yes, no (every key it presents is wrong or none), or either. */
export type KeyVerdict = "ok" | "bad" | "either";

/** What one command of a batch must get: its API input's answer, or a 400 for a malformed command. */
export type BatchItem = { readonly input: ApiInput } | { readonly odd: string };

export type HttpExpect =
  /** `POST /api/<method>` with a good key and content type: the body is judged as the NATS reply. */
  | { readonly kind: "api"; readonly input: ApiInput }
  /** An error HTTP framing decides (content type, body size): its code, naming the problem. */
  | { readonly kind: "api-error"; readonly code: number; readonly mention: RegExp }
  /** `POST /api/batch` or `/centrifugo/api/batch` of these commands (the body's shape is valid). */
  | { readonly kind: "batch"; readonly items: readonly BatchItem[]; readonly centrifugo: boolean }
  /** A batch whose body is wrong as a whole: one error, code among `codes` (Herald's). */
  | { readonly kind: "batch-error"; readonly codes: readonly number[]; readonly centrifugo: boolean }
  /** `POST /centrifugo/api/<method>` of an API input's body. */
  | { readonly kind: "centrifugo"; readonly input: ApiInput }
  /** The legacy `POST /centrifugo/api`: a reply line per command line (judged loosely). */
  | { readonly kind: "legacy" }
  /** An unknown route or wrong HTTP method: 404 in the API's error shape. */
  | { readonly kind: "not-found" }
  /** `GET /health` (200 or 503) or `GET /metrics` (200). */
  | { readonly kind: "ops" }
  /** Random: any allowed status, never a 500. */
  | { readonly kind: "any" }
  /** Bytes on a socket of their own: a status line among `statuses` for each request in them. */
  | { readonly kind: "raw"; readonly statuses: readonly number[]; readonly responses: number };

export interface HttpInput {
  /** What kind of input this is (for the figures), e.g. `api valid`, `batch`, `legacy`, `route`. */
  readonly label: string;
  /** The HTTP method. */
  readonly verb: string;
  /** Path and query as sent. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: string | Uint8Array;
  /** Sent with `Transfer-Encoding: chunked` (no Content-Length), in pieces. */
  readonly chunked?: boolean;
  /** Raw bytes written to a new connection instead (verb, path, headers, body unused). */
  readonly raw?: Uint8Array;
  readonly key: KeyVerdict;
  readonly expect: HttpExpect;
}

const utf8 = new TextEncoder();

export function httpBodyBytes(input: HttpInput): Uint8Array {
  if (input.body === undefined) return new Uint8Array(0);
  return typeof input.body === "string" ? utf8.encode(input.body) : input.body;
}

/** The text of an API input's body if it is UTF-8 JSON (to embed in a batch), else undefined. */
function jsonText(input: ApiInput): string | undefined {
  let text: string;
  try {
    text =
      typeof input.body === "string"
        ? input.body
        : new TextDecoder("utf-8", { fatal: true }).decode(input.body);
  } catch {
    return undefined;
  }
  if (text === "") return undefined;
  try {
    JSON.parse(text);
    return text;
  } catch {
    return undefined;
  }
}

// ---- headers -----------------------------------------------------------------------------------

/** Content types the API takes (media type application/json, any parameters, any case) or none. */
const GOOD_TYPES: readonly (string | undefined)[] = [
  "application/json",
  "application/json",
  "application/json; charset=utf-8",
  "Application/JSON",
  "application/json;charset=latin1",
  " application/json ; x=y",
  undefined,
];
const BAD_TYPES = [
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=xyz",
  "application/jsonx",
  "application/json-patch+json",
  "application/msgpack",
  "json",
  "*/*",
  "text/json",
  "application/ json",
];

/** X-Error-Mode / X-Centrifugo-Error-Mode: none, transport in its spellings, and junk. */
const MODES: readonly (string | readonly string[] | undefined)[] = [
  undefined,
  undefined,
  "transport",
  "Transport",
  " TRANSPORT ",
  "transport ",
  "",
  "json",
  "transports",
  "trans port",
  "500",
  "\ttransport\t",
  "tr\u00e4nsport",
  ["transport", "transport"],
  "x".repeat(2000),
];

type KeyCase = [KeyVerdict, Record<string, string | string[]>, string];
const goodKeys = fc.constantFrom<KeyCase>(
  ["ok", { "x-api-key": HTTP_FUZZ_KEY }, ""],
  ["ok", { "x-api-key": HTTP_FUZZ_KEY }, ""],
  ["ok", { "x-api-key": HTTP_FUZZ_KEY }, ""],
  ["ok", { "x-api-key": ` ${HTTP_FUZZ_KEY}\t` }, ""],
  ["ok", { authorization: `apikey ${HTTP_FUZZ_KEY}` }, ""],
  ["ok", { authorization: `ApiKey   ${HTTP_FUZZ_KEY}` }, ""],
  ["ok", { "x-api-key": "", authorization: `apikey ${HTTP_FUZZ_KEY}` }, ""],
);
const badKeys = fc.constantFrom<KeyCase>(
  ["bad", {}, ""],
  ["bad", { "x-api-key": "" }, ""],
  ["bad", { "x-api-key": HTTP_FUZZ_KEY.toUpperCase() }, ""],
  ["bad", { "x-api-key": HTTP_FUZZ_KEY.slice(0, -1) }, ""],
  ["bad", { "x-api-key": `${HTTP_FUZZ_KEY}x` }, ""],
  ["bad", { "x-api-key": "k".repeat(8000) }, ""],
  ["bad", { "x-api-key": "\u00ff\u00fe" }, ""],
  ["bad", { "x-api-key": [HTTP_FUZZ_KEY, HTTP_FUZZ_KEY] }, ""],
  ["bad", { authorization: `Bearer ${HTTP_FUZZ_KEY}` }, ""],
  ["bad", { authorization: "apikey" }, ""],
  ["bad", { authorization: `apikey${HTTP_FUZZ_KEY}` }, ""],
  ["bad", { authorization: `Basic ${Buffer.from(`:${HTTP_FUZZ_KEY}`).toString("base64")}` }, ""],
  // Herald's API takes no ?api_key=; the Centrifugo layer does (the query is added there).
  ["bad", {}, `?api_key=${HTTP_FUZZ_KEY}`],
  ["bad", {}, "?api_key="],
  ["bad", { "x-api-key": "wrong" }, "?api_key=wrong"],
);
/** The key: right (in its forms) six times in seven, else wrong or missing in one of many ways. */
const key = fc.oneof({ weight: 6, arbitrary: goodKeys }, { weight: 1, arbitrary: badKeys });

function withMode(
  headers: Record<string, string | string[]>,
  name: string,
  mode: string | readonly string[] | undefined,
): Record<string, string | readonly string[]> {
  return mode === undefined ? headers : { ...headers, [name]: mode };
}

const mode = fc.constantFrom(...MODES);
const goodType = fc.constantFrom(...GOOD_TYPES);

function typed(headers: Record<string, string | string[]>, type: string | undefined) {
  return type === undefined ? headers : { ...headers, "content-type": type };
}

// ---- families ----------------------------------------------------------------------------------

/** Every kind of HTTP input; `opts` as for the API inputs (`big`: bodies around 1 MiB and over, deep nesting). */
export function httpInputs(opts: InputOptions): fc.Arbitrary<HttpInput> {
  const api = apiInputs(opts);
  const small = apiInputs({ ...opts, big: false });

  /** An API input as `POST /api/<method>`: key, content type, error mode and chunking varied. */
  const viaApi = fc
    .tuple(api, key, goodType, mode, fc.boolean(), fc.nat(9))
    .map(([input, [verdict, headers, query], type, m, chunked, extra]): HttpInput => {
      const h = withMode(typed(headers, type), "x-error-mode", m);
      // `?x=1` and friends: the query does not change the method.
      const q = query !== "" ? query : extra === 0 ? "?x=1&api_key=nothing" : "";
      return {
        label: `api ${input.label}`,
        verb: "POST",
        path: `/api/${encodeURIComponent(input.method)}${q}`,
        headers: h,
        body: input.body,
        ...(chunked && extra < 3 ? { chunked: true } : {}),
        key: verdict,
        expect: { kind: "api", input },
      };
    });

  /** A wrong Content-Type on an otherwise good request: 400 naming it. */
  const wrongType = fc
    .tuple(small, fc.constantFrom(...BAD_TYPES), mode)
    .filter(([input]) => bodyBytes(input).length <= CONTRACT.requestMaxBytes)
    .map(
      ([input, type, m]): HttpInput => ({
        label: "content-type",
        verb: "POST",
        path: `/api/${encodeURIComponent(input.method)}`,
        headers: withMode({ "x-api-key": HTTP_FUZZ_KEY, "content-type": type }, "x-error-mode", m),
        body: input.body,
        key: "ok",
        expect: { kind: "api-error", code: 400, mention: /Content-Type|could not be read/i },
      }),
    );

  /** Bodies around the 1 MiB limit: exactly at it (taken), one byte over and more (413). */
  const sizes = fc
    .tuple(
      fc.constantFrom(0, 1, 2, 100, 60_000, CONTRACT.requestMaxBytes, 9 * CONTRACT.requestMaxBytes),
      fc.constantFrom("get_user_status", "heartbeat", "batch"),
      mode,
      fc.boolean(),
    )
    .map(([over, method, m, chunked]): HttpInput => {
      const head =
        method === "batch"
          ? '{"commands":[{"get_user_status":{"users":["fz-u1"]}}]}'
          : method === "heartbeat"
            ? '{"user":"fz-u1","conn":"c1"}'
            : '{"users":["fz-u1"]}';
      // JSON padded with spaces to exactly 1 MiB + `over` bytes.
      const size = CONTRACT.requestMaxBytes + over;
      const body = `${head}${" ".repeat(size - head.length)}`;
      const fits = over === 0;
      return {
        label: fits ? "body-1MiB" : "body-over-1MiB",
        verb: "POST",
        path: `/api/${method}`,
        headers: withMode(
          { "x-api-key": HTTP_FUZZ_KEY, "content-type": "application/json" },
          "x-error-mode",
          m,
        ),
        body,
        ...(chunked ? { chunked: true } : {}),
        key: "ok",
        expect: fits
          ? method === "batch"
            ? {
                kind: "batch",
                items: [
                  {
                    input: {
                      label: "valid",
                      method: "get_user_status",
                      body: '{"users":["fz-u1"]}',
                      expect: { kind: "valid" },
                    },
                  },
                ],
                centrifugo: false,
              }
            : {
                kind: "api",
                input: { label: "valid", method, body, expect: { kind: "valid" } },
              }
          : { kind: "api-error", code: 413, mention: /request body|1 MiB|1048576/ },
      };
    });

  /** Nesting deep enough to break a recursive parser, on every route that decodes JSON. */
  const deep = fc
    .tuple(
      fc.constantFrom<[number, boolean]>(
        [1000, false],
        [10_000, false],
        [100_000, false],
        // About 1 MiB each, within the limit: objects take 6 bytes a level, arrays 2.
        [170_000, false],
        [1000, true],
        [100_000, true],
        [500_000, true],
      ),
      fc.constantFrom(
        "/api/get_user_status",
        "/api/batch",
        "/centrifugo/api/batch",
        "/centrifugo/api/presence",
      ),
      fc.constantFrom("top", "params"),
    )
    .map(([[levels, arrays], path, where]): HttpInput => {
      const nested = nestedJson(levels, arrays);
      const body =
        where === "top"
          ? nested
          : path.endsWith("/batch")
            ? `{"commands":[{"get_user_status":${nested}}]}`
            : `{"users":${nested}}`;
      return {
        label: "deep-nesting",
        verb: "POST",
        path,
        headers: { "x-api-key": HTTP_FUZZ_KEY, "content-type": "application/json" },
        body,
        key: "ok",
        expect: { kind: "any" },
      };
    });

  /** `/api/batch` (and Centrifugo's): API inputs as commands, odd commands among them. */
  const oddCommand = fc.constantFrom(
    "{}",
    '{"heartbeat":{"user":"fz-u1","conn":"c1"},"join":{}}',
    '{"batch":{"commands":[]}}',
    "5",
    "null",
    '"heartbeat"',
    "[]",
    '[{"heartbeat":{}}]',
    "true",
  );
  const command = fc.oneof(
    { weight: 6, arbitrary: small.map((input) => ({ input, text: jsonText(input) })) },
    { weight: 1, arbitrary: oddCommand.map((odd) => ({ odd })) },
  );
  const batch = fc
    .tuple(
      fc.array(command, { minLength: 0, maxLength: 12 }),
      fc.option(fc.boolean(), { nil: undefined }),
      fc.boolean(),
      key,
      mode,
    )
    .map(([cmds, parallel, centrifugo, [verdict, headers, query], m]): HttpInput => {
      const items: BatchItem[] = [];
      const parts: string[] = [];
      for (const c of cmds) {
        if ("odd" in c) {
          items.push({ odd: c.odd });
          parts.push(c.odd);
        } else if (c.text !== undefined) {
          items.push({ input: c.input });
          parts.push(`{${JSON.stringify(c.input.method)}:${c.text}}`);
        }
      }
      const body = `{"commands":[${parts.join(",")}]${parallel === undefined ? "" : `,"parallel":${parallel}`}}`;
      const expect: HttpExpect =
        utf8.encode(body).length > CONTRACT.requestMaxBytes
          ? { kind: "batch-error", codes: [413], centrifugo }
          : { kind: "batch", items, centrifugo };
      return {
        label: centrifugo ? "centrifugo-batch" : "batch",
        verb: "POST",
        path: centrifugo ? `/centrifugo/api/batch${query}` : `/api/batch${query}`,
        headers: withMode(
          { ...headers, "content-type": "application/json" },
          centrifugo ? "x-centrifugo-error-mode" : "x-error-mode",
          m,
        ),
        body,
        key:
          centrifugo && query === `?api_key=${HTTP_FUZZ_KEY}` && headers["x-api-key"] === undefined
            ? "ok"
            : verdict,
        expect,
      };
    });

  /** Batch bodies wrong as a whole. */
  const badBatch = fc
    .tuple(
      fc.constantFrom<[string, number[]]>(
        ["", [400]],
        ["{}", [400]],
        ["[]", [400]],
        ["null", [400]],
        ['{"commands":{}}', [400]],
        ['{"commands":"x"}', [400]],
        ['{"commands":[],"parallel":"yes"}', [400]],
        ['{"commands":[],"parallel":1}', [400]],
        ['{"commands":[],"extra":1}', [400]],
        ['{"commands":[],"__proto__":{}}', [400]],
        ['{"commands":[', [400]],
        [
          `{"commands":[${Array(CONTRACT.batchMax + 1)
            .fill('{"presence_stats":{"channel":"fz-room 1"}}')
            .join(",")}]}`,
          [413],
        ],
        [`{"commands":[${Array(5000).fill("{}").join(",")}]}`, [413]],
      ),
      fc.boolean(),
      mode,
    )
    .map(
      ([[body, codes], centrifugo, m]): HttpInput => ({
        label: centrifugo ? "centrifugo-batch-bad" : "batch-bad",
        verb: "POST",
        path: centrifugo ? "/centrifugo/api/batch" : "/api/batch",
        headers: withMode(
          { "x-api-key": HTTP_FUZZ_KEY, "content-type": "application/json" },
          centrifugo ? "x-centrifugo-error-mode" : "x-error-mode",
          m,
        ),
        body,
        key: "ok",
        expect: { kind: "batch-error", codes, centrifugo },
      }),
    );

  /** The Centrifugo layer's methods with API inputs' bodies, and its key in the query. */
  const centrifugoMethod = fc
    .tuple(
      fc.oneof(
        { weight: 3, arbitrary: api },
        {
          weight: 3,
          arbitrary: fc
            .tuple(api, fc.constantFrom(...CENTRIFUGO_PASSED, "presence"))
            .map(([input, method]): ApiInput => ({ ...input, method, expect: { kind: "any" } })),
        },
        {
          weight: 1,
          arbitrary: fc
            .tuple(
              fc.constantFrom(...CENTRIFUGO_NOT_SERVED, "info"),
              fc.constantFrom("", "{}", '{"channel":"x"}', "{"),
            )
            .map(
              ([method, body]): ApiInput => ({
                label: "centrifugo-method",
                method,
                body,
                expect: { kind: "any" },
              }),
            ),
        },
      ),
      key,
      mode,
    )
    .map(
      ([input, [verdict, headers, query], m]): HttpInput => ({
        label: `centrifugo ${input.label}`,
        verb: "POST",
        path: `/centrifugo/api/${encodeURIComponent(input.method)}${query}`,
        headers: withMode({ ...headers, "content-type": "application/json" }, "x-centrifugo-error-mode", m),
        body: input.body,
        key: query === `?api_key=${HTTP_FUZZ_KEY}` && headers["x-api-key"] === undefined ? "ok" : verdict,
        expect: { kind: "centrifugo", input },
      }),
    );

  /** The legacy endpoint: newline-separated commands, garbage lines among them. */
  const garbageLine = fc.oneof(
    fc.constantFrom(
      "{",
      "garbage",
      '{"method":5}',
      '{"params":{}}',
      '{"method":"get_user_status","params":5}',
      '{"method":"get_user_status","params":{"users":[]}}',
      '{"method":"batch","params":{"commands":[{"info":{}}]}}',
      '{"method":"publish","params":{"channel":"x","data":{}}}',
      '{"method":"nope","params":{}}',
      '{"method":"__proto__","params":{}}',
      "[]",
      "null",
      '"x"',
      "\u0000",
      "\r",
      " \t ",
      nestedJson(10_000, true),
    ),
    fc.string({ maxLength: 30 }).filter((s) => !s.includes("\n")),
  );
  const legacy = fc
    .tuple(
      fc.array(
        fc.oneof(
          {
            weight: 3,
            arbitrary: small.chain((input) =>
              fc.constantFrom(...CENTRIFUGO_PASSED, "presence", "info").map((method) => ({ input, method })),
            ),
          },
          { weight: 2, arbitrary: garbageLine.map((line) => ({ line })) },
        ),
        { minLength: 0, maxLength: 10 },
      ),
      fc.boolean(),
      fc.constantFrom("\n", "\r\n", "\n\n"),
      key,
    )
    .map(([parts, invalidUtf8, sep, [verdict, headers, query]]): HttpInput => {
      const lines: string[] = [];
      for (const p of parts) {
        if ("line" in p) lines.push(p.line);
        else {
          const text = jsonText(p.input);
          lines.push(`{"method":${JSON.stringify(p.method)},"params":${text ?? "{}"}}`);
        }
      }
      let body: string | Uint8Array = lines.join(sep);
      if (invalidUtf8 && lines.length > 0) {
        const text = utf8.encode(body);
        const at = Math.floor(text.length / 2);
        const bytes = new Uint8Array(text.length + 2);
        bytes.set(text.subarray(0, at), 0);
        bytes.set([0xc0, 0x80], at);
        bytes.set(text.subarray(at), at + 2);
        body = bytes;
      }
      return {
        label: invalidUtf8 ? "legacy invalid-utf8" : "legacy",
        verb: "POST",
        path: `/centrifugo/api${query}`,
        headers: { ...headers, "content-type": "application/json" },
        body,
        key: query === `?api_key=${HTTP_FUZZ_KEY}` && headers["x-api-key"] === undefined ? "ok" : verdict,
        // Every line gets a reply line (a garbage one an error); what each says is judged loosely.
        expect: { kind: "legacy" },
      };
    });
  const legacyTooMany = fc.constant<HttpInput>({
    label: "legacy-too-many",
    verb: "POST",
    path: "/centrifugo/api",
    headers: { "x-api-key": HTTP_FUZZ_KEY },
    body: Array(CONTRACT.batchMax + 1)
      .fill('{"method":"info","params":{}}')
      .join("\n"),
    key: "ok",
    expect: { kind: "legacy" },
  });

  /** Unknown routes, wrong HTTP methods, odd paths. */
  const routes = fc
    .tuple(
      fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "POST", "HEAD", "PROPFIND", "TRACE"),
      fc.oneof(
        fc.constantFrom(
          "/",
          "/api",
          "/api/",
          "/apix/heartbeat",
          "/API/heartbeat",
          "/api/heartbeat/extra",
          "/api/batch/x",
          "//api/heartbeat",
          "/api//heartbeat",
          "/api/%00",
          "/api/%ZZ",
          "/api/..%2Fhealth",
          "/api/heartbeat%2F..%2F..%2Fhealth",
          "/centrifugo",
          "/centrifugo/",
          "/centrifugo/api/",
          "/centrifugo/api/batch/x",
          "/health/x",
          "/metrics/x",
          "/favicon.ico",
          "/.env",
          "/api/heartbeat;x",
          `/${"a".repeat(4000)}`,
          `/api/${"%E2%82".repeat(300)}`,
          "/api/%F0%9F%8E%89",
        ),
        fc.webPath(),
      ),
      fc.boolean(),
    )
    .map(
      ([verb, path, withKey]): HttpInput => ({
        label: "route",
        verb,
        path: path.startsWith("/") ? path : `/${path}`,
        headers: withKey ? { "x-api-key": HTTP_FUZZ_KEY } : {},
        ...(verb !== "GET" && verb !== "HEAD" ? { body: '{"users":["fz-u1"]}' } : {}),
        key: "either",
        expect: { kind: "any" },
      }),
    );
  const wrongVerb = fc
    .tuple(
      fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "OPTIONS"),
      fc.constantFrom(
        ...METHODS.map((m) => `/api/${m}`),
        "/api/batch",
        "/centrifugo/api",
        "/centrifugo/api/info",
      ),
    )
    .map(
      ([verb, path]): HttpInput => ({
        label: "wrong-verb",
        verb,
        path,
        headers: { "x-api-key": HTTP_FUZZ_KEY },
        key: "either",
        expect: { kind: "not-found" },
      }),
    );
  const ops = fc
    .tuple(fc.constantFrom("/health", "/metrics", "/health?x=1"), fc.constantFrom("GET", "HEAD"), key)
    .map(
      ([path, verb, [, headers]]): HttpInput => ({
        label: "ops",
        verb,
        path,
        headers,
        key: "either",
        expect: { kind: "ops" },
      }),
    );

  /** Random bytes and random JSON to any API route, with a good key. */
  const random = fc
    .tuple(
      fc.constantFrom("/api/", "/centrifugo/api/"),
      fc.constantFrom(...METHODS, "batch", "info", "presence"),
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? "null"),
      ),
      mode,
    )
    .map(
      ([prefix, method, body, m]): HttpInput => ({
        label: "random",
        verb: "POST",
        path: `${prefix}${method}`,
        headers: withMode(
          { "x-api-key": HTTP_FUZZ_KEY },
          prefix === "/api/" ? "x-error-mode" : "x-centrifugo-error-mode",
          m,
        ),
        body,
        key: "ok",
        expect: { kind: "any" },
      }),
    );

  /**
   * Bytes on a connection of their own: framing Node's HTTP parser refuses (400, 431 for huge
   * headers; 401 where the headers of an API route without a key were read before the error).
   */
  const request = (line: string, headers: string[], body = "") =>
    `${line}\r\nHost: x\r\n${headers.map((h) => `${h}\r\n`).join("")}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const auth = `X-API-Key: ${HTTP_FUZZ_KEY}`;
  const stats = '{"channel":"fz-room 1"}';
  const raw = fc
    .constantFrom<[string, string, number[], number]>(
      ["garbage request line", "GARBAGE\r\n\r\n", [400], 1],
      ["no version", "POST /api/heartbeat\r\n\r\n", [400, 401], 1],
      ["header without colon", "POST /api/heartbeat HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", [400, 401], 1],
      [
        "content-length and chunked",
        "POST /api/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        [400, 401],
        1,
      ],
      [
        "bad chunk size",
        "POST /api/heartbeat HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
        [400, 401],
        1,
      ],
      [
        "two content-lengths",
        "POST /api/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        [400, 401],
        1,
      ],
      [
        "negative content-length",
        "POST /api/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        [400, 401],
        1,
      ],
      ["NUL in header", "GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n", [400], 1],
      ["HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", [400, 505], 1],
      ["HTTP/9", "GET /health HTTP/9.9\r\n\r\n", [400, 505], 1],
      [
        "headers over 16 KiB",
        `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
        [431, 400],
        1,
      ],
      ["health HTTP/1.0", "GET /health HTTP/1.0\r\n\r\n", [200, 503], 1],
      [
        "pipelined",
        request("POST /api/presence_stats HTTP/1.1", [auth], stats) +
          request("POST /api/nope HTTP/1.1", [auth, "Connection: close"]),
        [200],
        2,
      ],
      [
        "absolute-form",
        request("POST http://example.com/api/presence_stats HTTP/1.1", [auth, "Connection: close"], stats),
        [200, 400, 404],
        1,
      ],
      [
        "expect 100-continue",
        request(
          "POST /api/presence_stats HTTP/1.1",
          [auth, "Expect: 100-continue", "Connection: close"],
          stats,
        ),
        [200],
        1,
      ],
      [
        "chunked with trailer",
        `POST /api/presence_stats HTTP/1.1\r\nHost: x\r\n${auth}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n{"cha\r\n12\r\nnnel":"fz-room 1"}\r\n0\r\nX-Trailer: 1\r\n\r\n`,
        [200],
        1,
      ],
    )
    .map(
      ([what, text, statuses, responses]): HttpInput => ({
        label: `raw ${what}`,
        verb: "",
        path: "",
        headers: {},
        raw: Buffer.from(text, "latin1"),
        key: "either",
        expect: { kind: "raw", statuses, responses },
      }),
    );

  const arbs: fc.WeightedArbitrary<HttpInput>[] = [
    { weight: 200, arbitrary: viaApi },
    { weight: 20, arbitrary: wrongType },
    { weight: 50, arbitrary: batch },
    { weight: 10, arbitrary: badBatch },
    { weight: 40, arbitrary: centrifugoMethod },
    { weight: 30, arbitrary: legacy },
    { weight: 20, arbitrary: routes },
    { weight: 10, arbitrary: wrongVerb },
    { weight: 5, arbitrary: ops },
    { weight: 15, arbitrary: random },
    { weight: 10, arbitrary: raw },
  ];
  if (opts.big) {
    arbs.push(
      { weight: 5, arbitrary: sizes },
      { weight: 5, arbitrary: deep },
      { weight: 1, arbitrary: legacyTooMany },
    );
  }
  return fc.oneof(...arbs);
}
