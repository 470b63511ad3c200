/**
 * Sends an HTTP input (http-inputs.ts) to the gateway and judges its answer (CONTRACT.md §7):
 * an answer within a bound; never HTTP 500, never `{"error": {"code": 500}}` nor Centrifugo's
 * internal error 100 (at the top, in a batch's replies, in a legacy reply line); a status among
 * 200/400/401/404/413/429/503 (409 too when the request asked for the transport error mode); a
 * wrong or missing key 401, a right one never; in the transport error mode the status is the
 * error's (Centrifugo's mapping on its routes), otherwise 200; and, where the request wraps an
 * API input, the body judged by the NATS fuzz's oracle (the same code, the same message).
 */
import { type Agent, request } from "node:http";
import { connect } from "node:net";
import { CENTRIFUGO_NOT_SERVED, CENTRIFUGO_PASSED, type HttpInput, httpBodyBytes } from "./http-inputs.js";
import { type ApiInput, bodyBytes, CONTRACT } from "./inputs.js";
import { judge, type ProblemKind } from "./oracle.js";

/** What came back for one HTTP input. */
export interface HttpAnswer {
  readonly status?: number;
  readonly contentType?: string;
  readonly body?: Buffer;
  /** Raw inputs: the status of every response on the connection, in order (1xx included). */
  readonly statuses?: readonly number[];
  /** No answer: why. */
  readonly why?: string;
  readonly ms: number;
}

/** What is wrong with an answer; `known`: a finding already reported (see {@link KNOWN_FINDINGS}). */
export type HttpProblemKind = ProblemKind | "known";

export interface HttpJudgement {
  /** The status (and error code) seen, for the figures, e.g. `200 result`, `200 error 400`, `401`. */
  readonly outcome: string;
  readonly problem?: { readonly kind: HttpProblemKind; readonly detail: string };
}

/**
 * Contract violations the fuzz found and docs/ROBUSTNESS.md reports, not yet fixed: counted and
 * shown as `known`, without failing the run. Once one is fixed, delete its entry and the fuzz
 * enforces the contract there again.
 */
export const KNOWN_FINDINGS: readonly {
  readonly id: string;
  readonly what: string;
  readonly matches: (input: HttpInput, answer: HttpAnswer) => boolean;
}[] = [
  {
    id: "413-then-reset",
    what:
      "a body over the gateway's read limit (8 MiB; bodies up to it are read and answered 413 on an open " +
      "connection) that is still being sent when the gateway answers 413 and closes: the close " +
      "comes with unread bytes, so the kernel resets the connection and the client may lose the 413 " +
      "(write EPIPE / ECONNRESET, no answer) — no lingering close (RFC 9112 §9.6) after refusing a body",
    matches: (input, answer) =>
      answer.status === undefined &&
      httpBodyBytes(input).length > 8 * CONTRACT.requestMaxBytes &&
      /EPIPE|ECONNRESET/.test(answer.why ?? ""),
  },
];

/** Sends `input` to `base` (http://host:port), on `agent` (keep-alive) or on a socket of its own (raw). */
export function sendHttp(base: URL, input: HttpInput, agent: Agent, timeoutMs: number): Promise<HttpAnswer> {
  const t0 = performance.now();
  const ms = () => performance.now() - t0;
  if (input.raw !== undefined) return sendRaw(base, input.raw, timeoutMs, t0);
  const body = httpBodyBytes(input);
  if (body.length > STREAM_ABOVE) return sendStreaming(base, input, body, timeoutMs, t0);
  return new Promise((resolve) => {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(input.headers)) headers[k] = typeof v === "string" ? v : [...v];
    if (!input.chunked && input.body !== undefined) headers["content-length"] = String(body.length);
    let settled = false;
    const done = (a: HttpAnswer) => {
      if (settled) return;
      settled = true;
      resolve(a);
    };
    let req: ReturnType<typeof request>;
    try {
      req = request(
        { host: base.hostname, port: base.port, path: input.path, method: input.verb, headers, agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            done({
              status: res.statusCode as number,
              ...(res.headers["content-type"] !== undefined
                ? { contentType: res.headers["content-type"] }
                : {}),
              body: Buffer.concat(chunks),
              ms: ms(),
            }),
          );
          res.on("error", (err) => done({ why: `response: ${err.message}`, ms: ms() }));
        },
      );
    } catch (err) {
      // The client refused to send it (an invalid header or path): not the gateway's doing.
      done({ why: `client: ${(err as Error).message}`, ms: ms() });
      return;
    }
    req.on("error", (err) => done({ why: err.message, ms: ms() }));
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    if (input.chunked && body.length > 0) {
      const third = Math.ceil(body.length / 3);
      for (let i = 0; i < body.length; i += third) req.write(body.subarray(i, i + third));
      req.end();
    } else req.end(body.length > 0 ? body : undefined);
  });
}

/**
 * Bodies this large go on a connection of their own, written while the answer is read, as curl
 * does: the gateway answers 413 and closes once it has read 1 MiB (at once when Content-Length
 * says more), and a client that only writes (Node's http client) sees the connection reset
 * before it reads the answer. This one stops writing as soon as an answer arrives.
 */
const STREAM_ABOVE = CONTRACT.requestMaxBytes + 64 * 1024;

function sendStreaming(
  base: URL,
  input: HttpInput,
  body: Uint8Array,
  timeoutMs: number,
  t0: number,
): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let answered = false;
    let finished = false;
    const socket = connect(Number(base.port), base.hostname);
    const finish = (why?: string) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      const res = parseResponse(Buffer.concat(chunks));
      resolve(
        res === undefined
          ? { why: why ?? "the connection closed without an answer", ms: performance.now() - t0 }
          : { ...res, ms: performance.now() - t0 },
      );
    };
    const timer = setTimeout(() => finish(`no answer within ${timeoutMs} ms`), timeoutMs);
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      answered = true;
    });
    socket.on("end", () => finish());
    socket.on("close", () => finish());
    socket.on("error", (err) => finish(err.message));
    socket.on("connect", async () => {
      const lines = [`${input.verb} ${input.path} HTTP/1.1`, `Host: ${base.host}`, "Connection: close"];
      for (const [k, v] of Object.entries(input.headers))
        for (const one of typeof v === "string" ? [v] : v) lines.push(`${k}: ${one}`);
      lines.push(input.chunked ? "Transfer-Encoding: chunked" : `Content-Length: ${body.length}`);
      socket.write(Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"));
      // A Content-Length over the limit is refused on the headers alone: give the answer a moment.
      await new Promise((r) => setTimeout(r, 20));
      const piece = 64 * 1024;
      for (let i = 0; i < body.length && !answered && !finished; i += piece) {
        const part = body.subarray(i, i + piece);
        const framed = input.chunked
          ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from("\r\n")])
          : part;
        if (!socket.write(framed)) await new Promise((r) => socket.once("drain", r));
      }
      if (input.chunked && !answered && !finished) socket.write("0\r\n\r\n");
    });
  });
}

/** The first final (non-1xx) response in `buf`: status, content type and body (by Content-Length). */
function parseResponse(buf: Buffer): { status: number; contentType?: string; body: Buffer } | undefined {
  let off = 0;
  for (;;) {
    const end = buf.indexOf("\r\n\r\n", off);
    if (end < 0) return undefined;
    const head = buf.subarray(off, end).toString("latin1").split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? "");
    if (m === null) return undefined;
    const status = Number(m[1]);
    if (status < 200) {
      off = end + 4;
      continue;
    }
    const headers = new Map(
      head
        .slice(1)
        .map((l) => [l.slice(0, l.indexOf(":")).trim().toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
    );
    const length = headers.get("content-length");
    const body = buf.subarray(end + 4, length === undefined ? undefined : end + 4 + Number(length));
    const contentType = headers.get("content-type");
    return { status, ...(contentType !== undefined ? { contentType } : {}), body };
  }
}

function sendRaw(base: URL, bytes: Uint8Array, timeoutMs: number, t0: number): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(base.port), base.hostname);
    const finish = (why?: string) => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString("latin1");
      const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
      resolve({
        statuses,
        ...(why !== undefined && statuses.length === 0 ? { why } : {}),
        ms: performance.now() - t0,
      });
    };
    const timer = setTimeout(() => finish(`the connection stayed open ${timeoutMs} ms`), timeoutMs);
    socket.on("connect", () => socket.write(bytes));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("end", () => finish());
    socket.on("close", () => finish());
    socket.on("error", (err) => finish(err.message));
  });
}

// ---- judging -----------------------------------------------------------------------------------

const ALLOWED = new Set([200, 400, 401, 404, 413, 429, 503]);

/** Centrifugo's codes Herald answers with, and Herald's codes each stands for. */
const FROM_CENTRIFUGO: Readonly<Record<number, readonly number[]>> = {
  104: [404],
  107: [400, 413],
  108: [503],
  111: [429],
  113: [409],
};
/** Centrifugo's HTTP status of a code in its transport error mode. */
const CENTRIFUGO_STATUS: Readonly<Record<number, number>> = {
  104: 404,
  107: 400,
  108: 400,
  111: 429,
  113: 409,
};
/** Herald's code as Centrifugo's. */
const TO_CENTRIFUGO: Readonly<Record<number, number>> = {
  400: 107,
  413: 107,
  404: 104,
  409: 113,
  429: 111,
  503: 108,
};

function header(input: HttpInput, name: string): string | undefined {
  const v = input.headers[name];
  return v === undefined ? undefined : typeof v === "string" ? v : v.join(", ");
}

/** Whether the request asks for the transport error mode (the header's value, trimmed, any case). */
function transportMode(input: HttpInput, name: string): boolean {
  return header(input, name)?.trim().toLowerCase() === "transport";
}

const strict = new TextDecoder("utf-8", { fatal: true });

function parseJson(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(strict.decode(bytes)) };
  } catch {
    return { ok: false };
  }
}

/** Whether the gateway can decode `body` as a request's JSON (§4: UTF-8 JSON, empty is `{}`, ≤ 1 MiB). */
function decodes(body: Uint8Array): boolean {
  return body.length <= CONTRACT.requestMaxBytes && (body.length === 0 || parseJson(body).ok);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const errorOf = (v: unknown): { code?: unknown; message?: unknown } | undefined =>
  isObj(v) && isObj(v.error) ? (v.error as { code?: unknown; message?: unknown }) : undefined;

/** An internal error anywhere an answer can carry one: 500 (Herald), 100 (Centrifugo). */
function internalError(v: unknown): string | undefined {
  const codes: unknown[] = [];
  if (isObj(v)) {
    codes.push(errorOf(v)?.code, v.code);
    if (Array.isArray(v.replies)) for (const r of v.replies) codes.push(errorOf(r)?.code);
  }
  const bad = codes.find((c) => c === 500 || c === 100);
  return bad === undefined ? undefined : `error code ${bad} in ${JSON.stringify(v).slice(0, 300)}`;
}

/** Judges a Herald-shaped reply (`{"result"}` / `{"error"}`) of an API input with the NATS oracle. */
function judgeReply(
  input: ApiInput,
  reply: unknown,
): { outcome: string; problem?: string; kind?: ProblemKind } {
  const j = judge(input, { data: Buffer.from(JSON.stringify(reply)), ms: 0 }, { natsHeaders: false });
  const outcome = j.outcome === "result" ? "result" : `error ${j.outcome}`;
  return j.problem === undefined ? { outcome } : { outcome, problem: j.problem.detail, kind: j.problem.kind };
}

/**
 * Judges a Centrifugo reply, `{"result"}` or `{"error": {code, message}}` with Centrifugo's code,
 * of `method` with `body` (an API input's): Herald's answer in Centrifugo's codes.
 */
function judgeCentrifugo(input: ApiInput, reply: Obj): { outcome: string; problem?: string } {
  const err = errorOf(reply);
  const method = input.method;
  const decoded = decodes(bodyBytes(input));
  if (err !== undefined) {
    const code = err.code as number;
    if (typeof err.message !== "string" || err.message === "")
      return { outcome: `error ${code}`, problem: "no message" };
    const outcome = `error ${code}`;
    if (FROM_CENTRIFUGO[code] === undefined)
      return { outcome, problem: `code ${code} is not one of Centrifugo's` };
    if (CENTRIFUGO_PASSED.includes(method) || method === "presence") {
      // Herald's answer, its code as Centrifugo's: one of the codes it stands for must pass.
      const tries = (FROM_CENTRIFUGO[code] as readonly number[]).map((h) =>
        judgeReply(input, { error: { code: h, message: err.message } }),
      );
      const ok = tries.find((t) => t.problem === undefined);
      return ok !== undefined ? { outcome } : { outcome, problem: tries[0]?.problem ?? "wrong" };
    }
    if (!decoded)
      return code === 107 ? { outcome } : { outcome, problem: `${code} for a body that is not JSON (107)` };
    if (method === "info") return { outcome, problem: `info refused: ${code} ${err.message}` };
    if (CENTRIFUGO_NOT_SERVED.includes(method))
      return code === 108 ? { outcome } : { outcome, problem: `${code} for ${method}, not 108` };
    // Any other name: not Centrifugo's (104), or one of its methods Herald does not serve (108).
    return code === 104 || code === 108 ? { outcome } : { outcome, problem: `${code} for unknown ${method}` };
  }
  if (!("result" in reply)) return { outcome: "none", problem: "neither result nor error" };
  const result = reply.result;
  if (CENTRIFUGO_PASSED.includes(method)) {
    const j = judgeReply(input, { result });
    return j.problem === undefined ? { outcome: "result" } : { outcome: "result", problem: j.problem };
  }
  if (method === "presence") {
    if (!isObj(result) || !isObj(result.presence))
      return { outcome: "result", problem: "presence without {presence}" };
    if (input.expect.kind === "invalid")
      return { outcome: "result", problem: "a result for an invalid request" };
    return { outcome: "result" };
  }
  if (method === "info") {
    const nodes = isObj(result) ? result.nodes : undefined;
    return Array.isArray(nodes) && nodes.length >= 1
      ? { outcome: "result" }
      : { outcome: "result", problem: "info without nodes" };
  }
  return { outcome: "result", problem: `a result for ${method}, which Herald does not serve` };
}

export function judgeHttp(input: HttpInput, answer: HttpAnswer): HttpJudgement {
  const problem = (kind: HttpProblemKind, outcome: string, detail: string): HttpJudgement => ({
    outcome,
    problem: { kind, detail },
  });
  const expect = input.expect;

  if (expect.kind === "raw") {
    const finals = (answer.statuses ?? []).filter((s) => s >= 200);
    const outcome = finals.join("+") || "none";
    if (finals.length < expect.responses)
      return problem(
        "no-reply",
        outcome,
        `${finals.length} of ${expect.responses} responses: ${answer.why ?? "closed"}`,
      );
    if (finals.includes(500)) return problem("500", outcome, "HTTP 500");
    const odd = finals.find((s) => !expect.statuses.includes(s));
    if (odd !== undefined)
      return problem("wrong", outcome, `HTTP ${odd}, expected ${expect.statuses.join("/")}`);
    return { outcome };
  }

  const known = KNOWN_FINDINGS.find((k) => k.matches(input, answer));
  if (known !== undefined) return problem("known", `known ${known.id}`, known.what);
  if (answer.status === undefined || answer.why !== undefined) {
    return problem("no-reply", "none", `no answer after ${Math.round(answer.ms)} ms: ${answer.why}`);
  }
  const status = answer.status;
  const centrifugoRoute = input.path.startsWith("/centrifugo/");
  const heraldTransport = transportMode(input, "x-error-mode");
  const centrifugoTransport = transportMode(input, "x-centrifugo-error-mode");
  const body = answer.body ?? Buffer.alloc(0);
  const isJson = answer.contentType?.startsWith("application/json") === true;
  const hasBody = input.verb !== "HEAD" && body.length > 0;

  // The legacy endpoint answers lines; everything else JSON (or /metrics' text).
  const legacy = expect.kind === "legacy";
  const lines: unknown[] = [];
  if (hasBody && isJson) {
    const texts = legacy ? body.toString("utf8").split("\n") : [body.toString("utf8")];
    for (const text of texts) {
      const parsed = parseJson(Buffer.from(text, "utf8"));
      if (!parsed.ok) return problem("wrong", String(status), `not JSON: ${text.slice(0, 200)}`);
      lines.push(parsed.value);
    }
  }
  for (const v of lines) {
    const internal = internalError(v);
    if (internal !== undefined) return problem("500", `${status} internal`, internal);
  }
  if (status === 500) return problem("500", "500", `HTTP 500: ${body.toString("utf8").slice(0, 300)}`);
  // 409 only as the status of an error in the transport mode of the route's own header.
  const transport = centrifugoRoute ? centrifugoTransport : heraldTransport;
  if (!ALLOWED.has(status) && !(status === 409 && transport))
    return problem("wrong", String(status), `HTTP ${status}: ${body.toString("utf8").slice(0, 300)}`);
  const reply = lines[0];
  // Any answer other than 200 with a JSON body is an error in the API's shape with its status as
  // its code — or, on the Centrifugo routes in their transport mode, Centrifugo's {code, message}.
  if (status !== 200 && hasBody && isJson && !legacy) {
    const e = errorOf(reply);
    const herald = e !== undefined && e.code === status && typeof e.message === "string";
    const centrifugo =
      centrifugoRoute &&
      centrifugoTransport &&
      isObj(reply) &&
      CENTRIFUGO_STATUS[reply.code as number] === status &&
      typeof reply.message === "string";
    if (!herald && !centrifugo)
      return problem(
        "wrong",
        String(status),
        `HTTP ${status} with a body not in the API's error shape: ${body.toString("utf8").slice(0, 300)}`,
      );
  }

  // ---- the key ----
  if (input.key === "bad") {
    const code = errorOf(reply)?.code;
    if (status !== 401 || code !== 401)
      return problem("wrong", String(status), `a wrong or missing key got ${status}, not 401`);
    return { outcome: "401" };
  }
  if (input.key === "ok" && status === 401) return problem("wrong", "401", "the right key refused");
  if (status === 401) return { outcome: "401" };

  const statusOf = (code: number) => (heraldTransport ? code : 200);
  const outcomeOf = (v: unknown) => {
    const e = errorOf(v);
    return `${status} ${e === undefined ? "result" : `error ${e.code}`}`;
  };

  switch (expect.kind) {
    case "api":
    case "api-error": {
      if (!isObj(reply)) return problem("wrong", String(status), "no JSON object");
      const e = errorOf(reply);
      const outcome = outcomeOf(reply);
      const want = e === undefined ? 200 : statusOf(e.code as number);
      if (status !== want)
        return problem(
          "wrong",
          outcome,
          `HTTP ${status} for ${JSON.stringify(reply).slice(0, 200)}; expected ${want}`,
        );
      if (expect.kind === "api-error") {
        if (e === undefined) return problem("wrong", outcome, `a result; expected error ${expect.code}`);
        if (e.code !== expect.code || !expect.mention.test(String(e.message)))
          return problem(
            "wrong",
            outcome,
            `${e.code} ${e.message}; expected ${expect.code} naming ${expect.mention}`,
          );
        return { outcome };
      }
      const j = judgeReply(expect.input, reply);
      return j.problem === undefined ? { outcome } : problem(j.kind ?? "wrong", outcome, j.problem);
    }
    case "batch":
    case "batch-error": {
      const centrifugo = expect.centrifugo;
      if (!isObj(reply)) return problem("wrong", String(status), "no JSON object");
      // A whole-batch error: Herald's shape, or Centrifugo's (transport: {code, message} with its status).
      const topError =
        centrifugo && centrifugoTransport && status !== 200
          ? { code: reply.code, message: reply.message }
          : errorOf(reply);
      if (expect.kind === "batch-error") {
        const outcome = `${status} error ${topError?.code}`;
        if (topError === undefined)
          return problem("wrong", `${status} replies`, `replies; expected error ${expect.codes.join("/")}`);
        const codes = centrifugo ? expect.codes.map((c) => TO_CENTRIFUGO[c]) : expect.codes;
        if (!codes.includes(topError.code as number))
          return problem(
            "wrong",
            outcome,
            `${topError.code} ${topError.message}; expected ${codes.join("/")}`,
          );
        const want = centrifugo
          ? centrifugoTransport
            ? CENTRIFUGO_STATUS[topError.code as number]
            : 200
          : statusOf(topError.code as number);
        if (status !== want) return problem("wrong", outcome, `HTTP ${status}; expected ${want}`);
        return { outcome };
      }
      if (topError !== undefined)
        return problem(
          "wrong",
          `${status} error ${topError.code}`,
          `the batch refused: ${topError.code} ${topError.message}`,
        );
      if (status !== 200) return problem("wrong", String(status), `HTTP ${status} for a batch's replies`);
      const replies = reply.replies;
      if (!Array.isArray(replies) || replies.length !== expect.items.length)
        return problem(
          "wrong",
          "200 replies",
          `${Array.isArray(replies) ? replies.length : "no"} replies for ${expect.items.length} commands`,
        );
      for (const [i, item] of expect.items.entries()) {
        const r = replies[i];
        if (!isObj(r) || Object.keys(r).length !== 1)
          return problem("wrong", "200 replies", `replies[${i}] is not one key`);
        const e = errorOf(r);
        if ("odd" in item) {
          const want = centrifugo ? 107 : 400;
          if (e?.code !== want)
            return problem(
              "wrong",
              "200 replies",
              `replies[${i}] for ${item.odd}: ${JSON.stringify(r).slice(0, 200)}; expected error ${want}`,
            );
          continue;
        }
        const method = item.input.method;
        if (e === undefined && !(method in r))
          return problem("wrong", "200 replies", `replies[${i}] has key ${Object.keys(r)[0]}, not ${method}`);
        const asReply = e === undefined ? { result: r[method] } : { error: e };
        const j = centrifugo ? judgeCentrifugo(item.input, asReply) : judgeReply(item.input, asReply);
        if (j.problem !== undefined)
          return problem("wrong", "200 replies", `replies[${i}] (${method}): ${j.problem}`);
      }
      return { outcome: "200 replies" };
    }
    case "centrifugo": {
      if (!isObj(reply)) return problem("wrong", String(status), "no JSON object");
      let asReply: Obj = reply;
      if (centrifugoTransport && status !== 200) {
        asReply = { error: { code: reply.code, message: reply.message } };
        const want = CENTRIFUGO_STATUS[reply.code as number];
        if (status !== want)
          return problem("wrong", `${status}`, `HTTP ${status} for code ${reply.code}; expected ${want}`);
      } else if (status !== 200)
        return problem("wrong", String(status), `HTTP ${status} outside the transport mode`);
      else if (centrifugoTransport && errorOf(reply) !== undefined)
        return problem("wrong", "200 error", "an error answered 200 in the transport mode");
      const j = judgeCentrifugo(expect.input, asReply);
      const outcome = `${status} ${j.outcome}`;
      return j.problem === undefined ? { outcome } : problem("wrong", outcome, j.problem);
    }
    case "legacy": {
      if (status !== 200) return problem("wrong", String(status), `HTTP ${status}`);
      const sent = Buffer.from(httpBodyBytes(input))
        .toString("utf8")
        .split("\n")
        .filter((l) => l.trim() !== "");
      if (sent.length > CONTRACT.batchMax) {
        return errorOf(reply)?.code === 107 && lines.length === 1
          ? { outcome: "200 error 107" }
          : problem("wrong", "200", `${sent.length} lines: expected one error 107`);
      }
      const got = hasBody ? lines.length : 0;
      if (got !== sent.length)
        return problem("wrong", "200", `${got} reply lines for ${sent.length} command lines`);
      for (const [i, v] of lines.entries()) {
        if (!isObj(v)) return problem("wrong", "200", `reply line ${i} is not an object`);
        const e = errorOf(v);
        if (e !== undefined && FROM_CENTRIFUGO[e.code as number] === undefined)
          return problem("wrong", "200", `reply line ${i}: code ${e.code}`);
        if (e === undefined && !("result" in v))
          return problem("wrong", "200", `reply line ${i}: neither result nor error`);
      }
      // A line whose bytes were not UTF-8 (read as U+FFFD) answered with a result: counted, shown.
      const replaced = sent.findIndex((l) => l.includes("\uFFFD"));
      if (replaced >= 0 && errorOf(lines[replaced]) === undefined)
        return { outcome: "200 lines (a non-UTF-8 line got a result)" };
      return { outcome: "200 lines" };
    }
    case "not-found": {
      const code = errorOf(reply)?.code;
      if (status !== 404 || (input.verb !== "HEAD" && code !== 404))
        return problem(
          "wrong",
          String(status),
          `HTTP ${status} ${JSON.stringify(reply)?.slice(0, 200)}; expected 404`,
        );
      return { outcome: "404" };
    }
    case "ops": {
      const health = input.path.startsWith("/health");
      if (status !== 200 && !(health && status === 503))
        return problem("wrong", String(status), `HTTP ${status}`);
      return { outcome: String(status) };
    }
    case "any":
      return { outcome: hasBody && isJson ? outcomeOf(reply) : String(status) };
  }
}

/** A short printable form of an HTTP input. */
export function describeHttp(input: HttpInput): string {
  if (input.raw !== undefined) {
    const text = Buffer.from(input.raw).toString("latin1");
    return `${input.label}: ${JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}…` : text)}`;
  }
  const bytes = httpBodyBytes(input);
  let text = "";
  if (input.body !== undefined) {
    text =
      typeof input.body === "string"
        ? JSON.stringify(input.body.length > 300 ? `${input.body.slice(0, 300)}…` : input.body)
        : `bytes ${Buffer.from(bytes.subarray(0, 120)).toString("hex")}${bytes.length > 120 ? "…" : ""}`;
  }
  const headers = Object.entries(input.headers)
    .map(([k, v]) => {
      const s = typeof v === "string" ? v : v.join(" | ");
      return `${k}: ${JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s)}`;
    })
    .join(", ");
  const path = input.path.length > 120 ? `${input.path.slice(0, 120)}…` : input.path;
  return `${input.label}: ${input.verb} ${path}${input.chunked ? " (chunked)" : ""} {${headers}} (${bytes.length} bytes) ${text}`;
}
