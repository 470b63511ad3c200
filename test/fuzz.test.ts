/**
 * Fuzzing the API: a property-based run (fast-check) of malformed and hostile requests on every
 * method of `presence.api.<method>`, against nats-server and the three workers as processes.
 * Bad JSON, bytes that are not UTF-8, wrong types, missing and unknown fields (one named with
 * 700,000 characters), ids breaking the rules, data too large and nested 5,000 deep, `__proto__`
 * keys, times out of range, empty and oversized batches, bodies over 1 MiB, unknown methods,
 * random JSON and bytes, and valid requests mixed in (tools/lib/inputs.ts says what each must
 * get). For every input: a reply comes within REPLY_BOUND_MS; it is never a 500; a bad input is
 * refused with its 4xx and a message naming the field or the rule; a valid one gets its result
 * or a refusal its state may give; no worker exits. Meanwhile a canary user, kept live by
 * heartbeats and joined to a channel with `__proto__` in its data, stays online and in its
 * channel with its data (tools/lib/canary.ts). `pnpm fuzz` runs the same at scale.
 *
 * Then the same over HTTP (tools/lib/http-inputs.ts): API inputs as `POST /api/<method>` with
 * the key, content type and error mode varied, batches with odd commands, the Centrifugo layer
 * and its legacy endpoint with garbage lines, bodies at and over 1 MiB, deep nesting, unknown
 * routes and wrong HTTP methods, bad keys, malformed framing on raw sockets. Every request is
 * answered; never HTTP 500 nor an error code 500 (Centrifugo's 100); only the statuses §7
 * allows; a wrong key 401; the body what the NATS oracle requires; and at the end the gateway
 * says it is healthy, counted no 500 and logged no failed request, and NATS is still served.
 *
 * Seeded: the seed is in the test's name and every failure; `FUZZ_SEED=<n>` repeats a run
 * (`FUZZ_RUNS=<n>` changes the number of inputs, default 3000; `FUZZ_HTTP_RUNS=<n>` the number
 * of HTTP inputs, default 1500).
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Canary } from "../tools/lib/canary.js";
import { failedRequestLines, gatewayHttpHealth, sendAll } from "../tools/lib/http-fuzz.js";
import { HTTP_FUZZ_KEY, type HttpInput, httpInputs } from "../tools/lib/http-inputs.js";
import { describeHttp } from "../tools/lib/http-oracle.js";
import { type ApiInput, apiInputs } from "../tools/lib/inputs.js";
import { ask, describeInput, judge } from "../tools/lib/oracle.js";
import { Stack } from "../tools/lib/stack.js";

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2_000_000_000);
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
const HTTP_RUNS = Number(process.env.FUZZ_HTTP_RUNS ?? 1500);
/** HTTP requests in flight at once (keep-alive connections). */
const HTTP_CONCURRENCY = 8;
/** How long a reply may take: an update or a join waits for its owner's verdict (4 s at most). */
const REPLY_BOUND_MS = 10_000;
/** The canary is checked after every this many inputs, and at the end. */
const CHECK_EVERY = 250;
const MAX_TTL_MS = 3_600_000;

describe(`API fuzz (FUZZ_SEED=${SEED})`, () => {
  let stack: Stack;
  let canary: Canary;

  beforeAll(async () => {
    // max_payload 2 MB: bodies over the API's 1 MiB reach the gateway, which must answer 413.
    stack = await Stack.start({
      partitions: 2,
      serverConfig: "max_payload: 2MB",
      env: { PRESENCE_MAX_TTL_MS: String(MAX_TTL_MS) },
      http: { apiKey: HTTP_FUZZ_KEY },
    });
    canary = new Canary(await stack.connectAs("client", "fuzz-canary"), {
      tag: String(SEED),
      heartbeatMs: 500,
      ttlMs: 5000,
      activityMs: 10_000,
      timeoutMs: REPLY_BOUND_MS,
    });
    await canary.start();
  });

  afterAll(async () => {
    canary?.stop();
    await stack?.[Symbol.asyncDispose]();
  });

  it(`answers ${RUNS} hostile requests with a 4xx naming the problem, never a 500 or silence (FUZZ_SEED=${SEED})`, async () => {
    const inputs = apiInputs({
      nowMs: Date.now(),
      maxTtlMs: MAX_TTL_MS,
      avoid: new Set(canary.ids),
      big: true,
    });
    const seen = new Map<string, number>();
    let n = 0;
    const fail = (input: ApiInput, why: string): never => {
      const gateway = stack.workers.find((w) => w.name === "gateway")?.output.slice(-2000) ?? "";
      throw new Error(
        `FUZZ_SEED=${SEED}, input ${n}: ${why}\n  input: ${describeInput(input)}\n--- gateway output (end) ---\n${gateway}`,
      );
    };
    await fc.assert(
      fc.asyncProperty(inputs, async (input) => {
        n++;
        const judgement = judge(input, await ask(stack.nc, input, REPLY_BOUND_MS));
        if (judgement.problem !== undefined)
          fail(input, `${judgement.problem.kind}: ${judgement.problem.detail}`);
        const gone = stack.exited();
        if (gone.length > 0) fail(input, `a worker exited:\n${gone.join("\n")}`);
        const key = `${input.label} → ${judgement.outcome}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        if (n % CHECK_EVERY === 0) {
          const problems = await canary.check();
          if (problems.length > 0) fail(input, `the canary is wrong: ${problems.join("; ")}`);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );

    expect(await canary.check(), `FUZZ_SEED=${SEED}: the canary at the end`).toEqual([]);
    expect(canary.failures, `FUZZ_SEED=${SEED}: the canary's heartbeats and checks`).toEqual([]);
    expect(canary.checks).toBeGreaterThanOrEqual(Math.floor(RUNS / CHECK_EVERY));
    expect(stack.exited(), `FUZZ_SEED=${SEED}: workers`).toEqual([]);
    // Every process kept to what its NATS user may do (the server runs with nats-auth.conf).
    expect(stack.violations(), `FUZZ_SEED=${SEED}: permissions violations`).toEqual([]);
    // Every kind of input was tried, refused ones and valid ones answered.
    const labels = new Set([...seen.keys()].map((k) => k.split(" → ")[0]));
    for (const label of [
      "valid",
      "bad-json",
      "invalid-utf8",
      "wrong-type",
      "missing",
      "unknown-field",
      "bad-id",
    ]) {
      expect(labels, `FUZZ_SEED=${SEED}: inputs tried`).toContain(label);
    }
    expect(seen.get("valid → result") ?? 0).toBeGreaterThan(0);
    console.log(
      `fuzz (FUZZ_SEED=${SEED}): ${n} inputs, canary checked ${canary.checks} times (${canary.heartbeats} heartbeats)\n${[
        ...seen,
      ]
        .sort()
        .map(([k, v]) => `  ${k}: ${v}`)
        .join("\n")}`,
    );
  });

  it(`answers ${HTTP_RUNS} hostile HTTP requests, never with a 500, and stays healthy (FUZZ_SEED=${SEED})`, async () => {
    const base = await stack.httpUrl();
    const inputs = fc.sample(
      httpInputs({ nowMs: Date.now(), maxTtlMs: MAX_TTL_MS, avoid: new Set(canary.ids), big: true }),
      { seed: SEED, numRuns: HTTP_RUNS },
    );
    const seen = new Map<string, number>();
    const problems: string[] = [];
    const t0 = Date.now();
    await sendAll(base, inputs, {
      concurrency: HTTP_CONCURRENCY,
      timeoutMs: REPLY_BOUND_MS,
      judged: (input: HttpInput, j, i) => {
        const key = `${input.label} → ${j.outcome}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        // A finding already reported (tools/lib/http-oracle.ts KNOWN_FINDINGS) is counted, not failed.
        if (j.problem !== undefined && j.problem.kind !== "known" && problems.length < 5)
          problems.push(`input ${i}: ${j.problem.kind}: ${j.problem.detail}\n    ${describeHttp(input)}`);
      },
    });
    const seconds = (Date.now() - t0) / 1000;
    const gateway = stack.workers.find((w) => w.name === "gateway");
    expect(problems, `FUZZ_SEED=${SEED}: HTTP answers`).toEqual([]);
    expect(stack.exited(), `FUZZ_SEED=${SEED}: workers`).toEqual([]);
    const health = await gatewayHttpHealth(base);
    expect(health.health, `FUZZ_SEED=${SEED}: GET /health`).toBe(200);
    expect(health.metrics500, `FUZZ_SEED=${SEED}: requests /metrics counts with a 5xx`).toEqual({});
    // Internal errors only: a 4xx the framework refused is logged as failed too (a known finding).
    const logged = failedRequestLines(gateway?.output ?? "");
    expect(logged.internal, `FUZZ_SEED=${SEED}: failed requests logged`).toEqual([]);
    // NATS is still served, and the canary is still right.
    expect(await canary.check(), `FUZZ_SEED=${SEED}: the canary after the HTTP fuzz`).toEqual([]);
    expect(stack.violations(), `FUZZ_SEED=${SEED}: permissions violations`).toEqual([]);
    const labels = new Set([...seen.keys()].map((k) => k.split(" → ")[0]?.split(" ")[0]));
    for (const label of ["api", "batch", "centrifugo", "legacy", "route", "raw"]) {
      expect(labels, `FUZZ_SEED=${SEED}: HTTP inputs tried`).toContain(label);
    }
    console.log(
      `HTTP fuzz (FUZZ_SEED=${SEED}): ${inputs.length} requests in ${seconds.toFixed(1)} s; by status ${JSON.stringify(health.byStatus)}\n${[
        ...seen,
      ]
        .sort()
        .map(([k, v]) => `  ${k}: ${v}`)
        .join("\n")}`,
    );
  });
});
