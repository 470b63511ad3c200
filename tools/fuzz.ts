/**
 * `pnpm fuzz`: the API fuzz of test/fuzz.test.ts at scale, plus plain publishes and garbage on
 * every internal subject, against nats-server and the three workers as processes.
 *
 *   1. requests: --inputs hostile and malformed requests (tools/lib/inputs.ts), --concurrency at
 *      a time, each judged (tools/lib/oracle.ts): a reply within --timeout-ms, never a 500, a bad
 *      input's 4xx naming the field or the rule, a valid input's result or state refusal;
 *  1b. HTTP: --http hostile requests to the gateway's HTTP API (tools/lib/http-inputs.ts),
 *      --http-concurrency at a time on keep-alive connections, each judged
 *      (tools/lib/http-oracle.ts): an answer within --timeout-ms, never HTTP 500 nor an error
 *      code 500 (Centrifugo's 100), only the statuses CONTRACT.md §7 allows, a wrong key 401, the
 *      body what the NATS oracle requires; afterwards `GET /health` 200, no 5xx counted in
 *      `/metrics` and no failed request in the gateway's log;
 *   2. plain publishes of the same inputs (no reply subject): every one must be counted by the
 *      gateway (appended, dropped as invalid, ignored query), none failed;
 *   3. --garbage messages on the internal subjects, each published as the component allowed to
 *      (tools/lib/garbage.ts), in chunks of 1000, each chunk followed by a barrier (a join on
 *      every partition, applied and projected) before the next; and malformed stats requests;
 *   4. probes: a join on every partition must be applied and projected (nothing stuck behind
 *      the garbage), queries of the ids garbage touched must be answered.
 * Throughout, a canary user stays online and in its channel with its data (tools/lib/canary.ts).
 *
 * The server runs with nats-auth.conf (tools/lib/stack.ts `AUTH`): the workers as their own
 * users, the requests as `client`, each garbage message as the component that may publish it.
 *
 * Prints the figures (inputs, crashes, hangs, 500s, wrong answers, the same over HTTP with the
 * known findings, canary checks, RSS of every process before and after) and exits 1 when a
 * worker exited, a request (NATS or HTTP) went unanswered, an input got a 500 or a wrong answer,
 * the canary went wrong, a probe failed, the server logged a permissions violation, or the
 * gateway was not healthy, counted a 5xx or logged an internal error after the HTTP requests.
 * Findings already reported (tools/lib/http-oracle.ts KNOWN_FINDINGS) are shown, not failed.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { partitionOf, subjects } from "@herald/protocol";
import { waitFor } from "@herald/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { headers as natsHeaders } from "@nats-io/nats-core";
import fc from "fast-check";
import { Canary } from "./lib/canary.js";
import { GARBAGE_CHANNELS, GARBAGE_USERS, type Garbage, garbage, STATS_BODIES } from "./lib/garbage.js";
import { failedRequestLines, gatewayHttpHealth, sendAll } from "./lib/http-fuzz.js";
import { HTTP_FUZZ_KEY, httpInputs } from "./lib/http-inputs.js";
import { describeHttp, KNOWN_FINDINGS } from "./lib/http-oracle.js";
import { type ApiInput, apiInputs, bodyBytes } from "./lib/inputs.js";
import { ask, describeInput, judge } from "./lib/oracle.js";
import { Examples, mib, numberArgs, pool, Tally, table } from "./lib/report.js";
import { AUTH, type NatsUser, Stack } from "./lib/stack.js";

const USAGE = `usage: pnpm fuzz [options]

  --inputs N        API inputs, each sent as a request and as a plain publish (default 100000)
  --seed S          seed of every input (default: random; printed, and repeats a run)
  --garbage N       messages on internal subjects (default: inputs / 2)
  --concurrency N   requests in flight at once (default 32)
  --http N          HTTP requests to the gateway's HTTP API (default inputs / 5)
  --http-concurrency N  HTTP requests in flight at once, on keep-alive connections (default 16)
  --partitions N    HERALD_PARTITIONS (default 4)
  --timeout-ms N    how long a reply may take (default 10000)
  --paced 0|1       1: each chunk of 1000 garbage messages waits for a barrier (default);
                    0: the garbage goes as fast as it can be published (a load test of nats-server)
  --help            this text
`;

const args = numberArgs(USAGE, {
  inputs: 100_000,
  seed: undefined,
  garbage: undefined,
  concurrency: 32,
  http: undefined,
  "http-concurrency": 16,
  partitions: 4,
  "timeout-ms": 10_000,
  paced: 1,
});
const INPUTS = args.inputs as number;
const SEED = args.seed ?? Math.floor(Math.random() * 2_000_000_000);
const GARBAGE = args.garbage ?? Math.floor(INPUTS / 2);
const CONCURRENCY = args.concurrency as number;
const HTTP_INPUTS = args.http ?? Math.floor(INPUTS / 5);
const HTTP_CONCURRENCY = args["http-concurrency"] as number;
const PARTITIONS = args.partitions as number;
const TIMEOUT_MS = args["timeout-ms"] as number;
const PACED = args.paced !== 0;
const CHUNK = 1000;
const MAX_TTL_MS = 3_600_000;

const log = (line: string) => process.stdout.write(`${line}\n`);
const since = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

/** The inputs of chunk `i`: the same for the same seed, whichever phase asks. */
function chunkOf(arb: fc.Arbitrary<ApiInput>, i: number): ApiInput[] {
  return fc.sample(arb, { seed: (SEED + i * 7919) | 0, numRuns: Math.min(CHUNK, INPUTS - i * CHUNK) });
}

async function main(): Promise<number> {
  const started = Date.now();
  log(
    `fuzz: seed ${SEED} (--seed ${SEED} repeats this run), ${INPUTS} inputs, ${HTTP_INPUTS} HTTP requests, ${GARBAGE} garbage messages${AUTH ? ", NATS auth" : ""}`,
  );
  await using stack = await Stack.start({
    partitions: PARTITIONS,
    serverConfig: "max_payload: 2MB",
    // Info: partitions taken and given back, snapshots; the garbage phase adds a warning per
    // dead letter and invalid KV value. Kept in files (the end of the run prints where).
    env: { LOG_LEVEL: "info", PRESENCE_MAX_TTL_MS: String(MAX_TTL_MS) },
    http: { apiKey: HTTP_FUZZ_KEY },
  });
  const canary = new Canary(await stack.connectAs("client", "fuzz-canary"), {
    tag: String(SEED),
    heartbeatMs: 1000,
    ttlMs: 10_000,
    activityMs: 30_000,
    timeoutMs: TIMEOUT_MS,
  });
  await canary.start();
  const rssBefore = stack.rss();
  const problems = new Examples(5);
  const outcomes = new Tally();
  let hangs = 0;
  let fiveHundreds = 0;
  let wrong = 0;
  const checkCanary = async (when: string) => {
    for (const p of await canary.check()) problems.add("canary", `${when}: ${p}`);
  };

  // ---- 1. requests ----------------------------------------------------------------------------
  const arb = apiInputs({ nowMs: Date.now(), maxTtlMs: MAX_TTL_MS, avoid: new Set(canary.ids), big: true });
  const chunks = Math.ceil(INPUTS / CHUNK);
  let t0 = Date.now();
  let sent = 0;
  for (let c = 0; c < chunks; c++) {
    const inputs = chunkOf(arb, c);
    await pool(inputs, CONCURRENCY, async (input, i) => {
      const j = judge(input, await ask(stack.nc, input, TIMEOUT_MS));
      outcomes.add(`${input.label} → ${j.outcome}`);
      if (j.problem !== undefined) {
        if (j.problem.kind === "no-reply") hangs++;
        else if (j.problem.kind === "500") fiveHundreds++;
        else wrong++;
        problems.add(
          j.problem.kind,
          `input ${c * CHUNK + i}: ${j.problem.detail}\n      ${describeInput(input)}`,
        );
      }
    });
    sent += inputs.length;
    if ((c + 1) % 10 === 0 || c === chunks - 1) {
      await checkCanary(`after ${sent} requests`);
      log(
        `  requests: ${sent}/${INPUTS} (${since(t0)}), ${hangs} hangs, ${fiveHundreds} × 500, ${wrong} wrong`,
      );
    }
  }
  const requestSeconds = (Date.now() - t0) / 1000;
  const longestStep: [string, unknown][] = [["requests", await maxStepMs(stack)]];

  // ---- 1b. HTTP ---------------------------------------------------------------------------------
  const base = await stack.httpUrl();
  const httpArb = httpInputs({
    nowMs: Date.now(),
    maxTtlMs: MAX_TTL_MS,
    avoid: new Set(canary.ids),
    big: true,
  });
  const httpOutcomes = new Tally();
  const httpProblems = new Tally();
  t0 = Date.now();
  let httpSent = 0;
  const httpChunks = Math.ceil(HTTP_INPUTS / CHUNK);
  for (let c = 0; c < httpChunks; c++) {
    const inputs = fc.sample(httpArb, {
      seed: (SEED ^ 0x4854) + c * 7919,
      numRuns: Math.min(CHUNK, HTTP_INPUTS - c * CHUNK),
    });
    await sendAll(base, inputs, {
      concurrency: HTTP_CONCURRENCY,
      timeoutMs: TIMEOUT_MS,
      first: c * CHUNK,
      judged: (input, j, i) => {
        httpOutcomes.add(`${input.label} → ${j.outcome}`);
        if (j.problem === undefined) return;
        httpProblems.add(j.problem.kind);
        problems.add(
          `http ${j.problem.kind} (${input.label})`,
          `HTTP input ${i}: ${j.problem.detail}\n      ${describeHttp(input)}`,
        );
      },
    });
    httpSent += inputs.length;
    if ((c + 1) % 10 === 0 || c === httpChunks - 1) {
      await checkCanary(`after ${httpSent} HTTP requests`);
      log(
        `  HTTP: ${httpSent}/${HTTP_INPUTS} (${since(t0)}), ${httpProblems.get("no-reply")} hangs, ` +
          `${httpProblems.get("500")} × 500, ${httpProblems.get("wrong")} wrong, ${httpProblems.get("known")} known`,
      );
    }
  }
  const httpSeconds = (Date.now() - t0) / 1000;

  // ---- 2. plain publishes ---------------------------------------------------------------------
  t0 = Date.now();
  const plainBefore = await plainCounters(stack.nc);
  let published = 0;
  let plainLost = 0;
  for (let c = 0; c < chunks; c++) {
    const inputs = chunkOf(arb, c);
    for (const input of inputs) stack.nc.publish(subjects.method(input.method), bodyBytes(input));
    await stack.nc.flush();
    published += inputs.length;
    // Every publish is counted once the gateway has dealt with it: wait for that (back-pressure).
    const counted = await waitFor(
      async () => {
        const now = await plainCounters(stack.nc);
        return total(now) - total(plainBefore) >= published ? now : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50, what: "the gateway to count the plain publishes" },
    ).catch(async () => plainCounters(stack.nc));
    const missing = published - (total(counted) - total(plainBefore));
    if (missing > 0) {
      plainLost = missing;
      problems.add("plain-lost", `after ${published} publishes the gateway counted ${published - missing}`);
      break;
    }
    if ((c + 1) % 20 === 0 || c === chunks - 1)
      log(`  plain publishes: ${published}/${INPUTS} (${since(t0)})`);
  }
  const plainAfter = await plainCounters(stack.nc);
  const plain = Object.fromEntries(
    Object.entries(plainAfter).map(([k, v]) => [k, v - (plainBefore[k] ?? 0)]),
  );
  if ((plain.plain_failed ?? 0) > 0)
    problems.add("plain-failed", `${plain.plain_failed} plain publishes could not be appended (503 or 500)`);
  await checkCanary("after the plain publishes");
  longestStep.push(["plain publishes", await maxStepMs(stack)]);

  // ---- 3. garbage on internal subjects --------------------------------------------------------
  // A barrier: a join of a probe user on every partition, with `tag` in its data, applied (its
  // owner's verdict) and projected (presence shows it). Commands, facts and KV values are each
  // taken in order, so once it passes, everything published before it has been dealt with.
  const probeRoom = `gz-probe room ${SEED}`;
  const probes: string[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    let k = 0;
    while (partitionOf(`gz-probe-${p}-${k}`, PARTITIONS) !== p) k++;
    probes.push(`gz-probe-${p}-${k}`);
  }
  let longestBarrierMs = 0;
  const barrier = async (tag: string): Promise<true> => {
    const t = Date.now();
    for (const user of probes) {
      const input: ApiInput = {
        label: "probe",
        method: "join",
        body: JSON.stringify({ user, conn: "probe", channel: probeRoom, data: { tag } }),
        expect: { kind: "valid" },
      };
      const j = judge(input, await ask(stack.nc, input, TIMEOUT_MS));
      if (j.outcome !== "result")
        problems.add("probe", `barrier ${tag}, ${user}: ${j.problem?.detail ?? j.outcome}`);
    }
    await waitFor(
      async () => {
        const m = await stack.nc.request(
          subjects.method("presence"),
          JSON.stringify({ channel: probeRoom }),
          {
            timeout: 5000,
          },
        );
        const members = m.json<{ result?: { members: { user: string; data: { tag?: string } }[] } }>().result
          ?.members;
        return probes.every((u) => members?.some((x) => x.user === u && x.data.tag === tag));
      },
      {
        timeoutMs: 120_000,
        intervalMs: 50,
        what: `barrier ${tag}: a join on every partition applied and projected`,
      },
    );
    longestBarrierMs = Math.max(longestBarrierMs, Date.now() - t);
    return true;
  };

  t0 = Date.now();
  // One connection per component, each publishing only where that component may.
  const as = new Map<NatsUser, NatsConnection>();
  for (const user of ["gateway", "presence-actor", "status-projector"] as const)
    as.set(user, await stack.connectAs(user, `fuzz-as-${user}`));
  const gatewayId = await findGatewayId(stack, as.get("gateway") as NatsConnection);
  const garbageArb = garbage({ partitions: PARTITIONS, gatewayId, now: Date.now });
  const families = new Tally();
  let garbageBytes = 0;
  for (let done = 0, c = 0; done < GARBAGE; c++) {
    const batch: Garbage[] = fc.sample(garbageArb, {
      seed: (SEED ^ 0x5eed) + c * 104_729,
      numRuns: Math.min(CHUNK, GARBAGE - done),
    });
    for (const g of batch) {
      const nc = as.get(g.as) ?? stack.admin;
      const h = g.headers === undefined ? undefined : natsHeaders();
      for (const [k, v] of Object.entries(g.headers ?? {})) h?.set(k, v);
      nc.publish(g.subject, g.data, h === undefined ? undefined : { headers: h });
      families.add(g.family);
      garbageBytes += g.data.length;
    }
    await Promise.all([...as.values()].map((nc) => nc.flush()));
    done += batch.length;
    // Paced: the next chunk goes once this one has been dealt with. (Unpaced, 50,000 messages in
    // seconds are a load test of nats-server, not of how the workers take bad input.)
    if (PACED) await barrier(`garbage ${c}`).catch((err: Error) => problems.add("probe", err.message));
    if ((c + 1) % 10 === 0 || done >= GARBAGE) log(`  garbage: ${done}/${GARBAGE} (${since(t0)})`);
  }
  // Stats requests with bodies that are not what an operator sends: each should be answered.
  const stats = new Tally();
  for (const component of ["gateway", "presence-actor", "status-projector"]) {
    for (const body of STATS_BODIES) {
      const answered = await stack.admin
        .request(`herald.admin.stats.${component}`, body, { timeout: 1000 })
        .then(() => true)
        .catch(() => false);
      stats.add(answered ? "answered" : "unanswered");
      if (!answered) stats.add(`unanswered ${JSON.stringify(new TextDecoder().decode(body))}`);
    }
  }

  longestStep.push(["garbage", await maxStepMs(stack)]);

  // ---- 4. probes ------------------------------------------------------------------------------
  t0 = Date.now();
  const projected = await barrier("end").catch((err: Error) => {
    problems.add("probe", err.message);
    return false;
  });
  const queries: ApiInput[] = [
    ...GARBAGE_USERS.map(
      (user): ApiInput => ({
        label: "probe",
        method: "history",
        body: JSON.stringify({ user, limit: 1000 }),
        expect: { kind: "answered" },
      }),
    ),
    ...GARBAGE_CHANNELS.map(
      (channel): ApiInput => ({
        label: "probe",
        method: "history",
        body: JSON.stringify({ channel, limit: 1000 }),
        expect: { kind: "answered" },
      }),
    ),
    {
      label: "probe",
      method: "status_at",
      body: JSON.stringify({ users: GARBAGE_USERS, at_ms: Date.now() }),
      expect: { kind: "answered" },
    },
    {
      label: "probe",
      method: "get_user_status",
      body: JSON.stringify({ users: GARBAGE_USERS, include_hidden: true }),
      expect: { kind: "valid" },
    },
    ...GARBAGE_CHANNELS.map(
      (channel): ApiInput => ({
        label: "probe",
        method: "presence",
        body: JSON.stringify({ channel }),
        expect: { kind: "valid" },
      }),
    ),
    ...GARBAGE_USERS.map(
      (user): ApiInput => ({
        label: "probe",
        method: "user_channels",
        body: JSON.stringify({ user }),
        expect: { kind: "valid" },
      }),
    ),
  ];
  for (const q of queries) {
    const j = judge(q, await ask(stack.nc, q, TIMEOUT_MS));
    outcomes.add(`probe ${q.method} → ${j.outcome}`);
    if (j.problem !== undefined) {
      if (j.problem.kind === "no-reply") hangs++;
      else if (j.problem.kind === "500") fiveHundreds++;
      else wrong++;
      problems.add(j.problem.kind, `probe: ${j.problem.detail}\n      ${describeInput(q)}`);
    }
  }
  await checkCanary("at the end");
  canary.stop();
  for (const f of canary.failures) if (!f.includes(" check ")) problems.add("canary", f);

  // The dead-letter stream may be read by its owner, presence-actor.
  const deadLetters = await deadLetterCounts(as.get("presence-actor") as NatsConnection);
  const violations = stack.violations();
  for (const v of violations) problems.add("permissions", v);
  longestStep.push(["probes", await maxStepMs(stack)]);
  const httpAfter = await gatewayHttpHealth(base);
  const failedLines = failedRequestLines(stack.workers.find((w) => w.name === "gateway")?.output ?? "");
  if (httpAfter.health !== 200) problems.add("http health", `GET /health answered ${httpAfter.health}`);
  for (const [k, n] of Object.entries(httpAfter.metrics500)) problems.add("http metrics", `${k}: ${n}`);
  for (const l of failedLines.internal) problems.add("http failed", l.slice(0, 500));
  const rssAfter = stack.rss();
  const crashes = stack.exited();
  for (const c of crashes) problems.add("crash", c);

  // ---- figures --------------------------------------------------------------------------------
  log("");
  log(`fuzz: seed ${SEED}, ${since(started)}`);
  log(
    table(
      ["figure", "value"],
      [
        ["inputs (requests)", INPUTS],
        ["requests per second", INPUTS > 0 ? Math.round(INPUTS / requestSeconds) : "—"],
        ["HTTP requests", HTTP_INPUTS],
        ["HTTP requests per second", HTTP_INPUTS > 0 ? Math.round(HTTP_INPUTS / httpSeconds) : "—"],
        [
          "  HTTP hangs / 500s / wrong / known findings",
          `${httpProblems.get("no-reply")} / ${httpProblems.get("500")} / ${httpProblems.get("wrong")} / ${httpProblems.get("known")}`,
        ],
        ["  GET /health at the end", httpAfter.health ?? "no answer"],
        [
          "  /metrics: HTTP requests by status",
          Object.entries(httpAfter.byStatus)
            .map(([k, v]) => `${k} ${v}`)
            .join(", "),
        ],
        ["  /metrics: 5xx other than 503", Object.values(httpAfter.metrics500).reduce((a, b) => a + b, 0)],
        [
          "  gateway log: HTTP request failed (internal / a client's 4xx)",
          `${failedLines.internal.length} / ${failedLines.clientErrors}`,
        ],
        ["plain publishes", published],
        [
          "  counted appended / dropped / ignored / failed",
          `${plain.plain_appended} / ${plain.plain_dropped} / ${plain.plain_ignored} / ${plain.plain_failed}`,
        ],
        ["  not counted", plainLost],
        ["garbage messages", `${GARBAGE} (${mib(garbageBytes)})`],
        ...families.rows().map(([k, v]): [string, number] => [`  ${k}`, v]),
        [
          "dead letters",
          Object.entries(deadLetters)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ") || "0",
        ],
        ["stats requests answered / unanswered", `${stats.get("answered")} / ${stats.get("unanswered")}`],
        ["NATS permissions violations", AUTH ? violations.length : "no auth"],
        ["crashes (worker exits)", crashes.length],
        ["hangs (requests without reply)", hangs],
        ["500s", fiveHundreds],
        ["wrong answers", wrong],
        ["canary checks (failed)", `${canary.checks} (${problems.count("canary")})`],
        ["canary heartbeats", canary.heartbeats],
        ["probe: every partition applied and projected", projected === true ? "yes" : "NO"],
        ["longest wait for a chunk of garbage to be dealt with", `${longestBarrierMs} ms`],
        [
          "presence-actor longest step, so far after each phase",
          longestStep.map(([phase, ms]) => `${phase} ${ms} ms`).join(", "),
        ],
      ],
    ),
  );
  log("");
  log(
    table(
      ["process", "RSS before", "RSS after"],
      Object.keys(rssAfter).map((k) => [k, mib(rssBefore[k]), mib(rssAfter[k])]),
    ),
  );
  log("");
  log(table(["input → outcome", "count"], outcomes.rows()));
  log("");
  log(table(["HTTP input → outcome", "count"], httpOutcomes.rows()));
  for (const k of KNOWN_FINDINGS)
    if (httpOutcomes.rows().some(([key]) => key.endsWith(`known ${k.id}`)))
      log(`\nknown finding ${k.id}: ${k.what}`);
  const unanswered = stats.rows().filter(([k]) => k.startsWith("unanswered "));
  if (unanswered.length > 0)
    log(
      `\nstats requests without a reply (body, times): ${unanswered.map(([k, v]) => `${k.slice(11)} ×${v}`).join(", ")}`,
    );
  const failed =
    crashes.length > 0 ||
    hangs > 0 ||
    fiveHundreds > 0 ||
    wrong > 0 ||
    problems.count("canary") > 0 ||
    problems.count("probe") > 0 ||
    problems.count("plain-lost") > 0 ||
    problems.count("plain-failed") > 0 ||
    problems.count("permissions") > 0 ||
    httpProblems.get("no-reply") > 0 ||
    httpProblems.get("500") > 0 ||
    httpProblems.get("wrong") > 0 ||
    problems.count("http health") > 0 ||
    problems.count("http metrics") > 0 ||
    problems.count("http failed") > 0;
  if (failed || problems.print() !== "") log(`\nproblems:\n${problems.print()}`);
  const logs = stack.saveLogs(join(tmpdir(), `herald-fuzz-${SEED}-${process.pid}`));
  log(`\nlogs: ${logs.join(" ")}`);
  log(`\n${failed ? "FAILED" : "passed"} (seed ${SEED})`);
  return failed ? 1 : 0;
}

/** presence-actor's longest step so far (applying one message), in ms. */
async function maxStepMs(stack: Stack): Promise<unknown> {
  return (await stack.stats("presence-actor"))[0]?.max_step_ms;
}

/** The gateway's counters of plain publishes (`$SRV.STATS.presence`, endpoint data). */
async function plainCounters(nc: NatsConnection): Promise<Record<string, number>> {
  const m = await nc.request("$SRV.STATS.presence", "", { timeout: 5000 });
  const data = m.json<{ endpoints?: { data?: Record<string, unknown> }[] }>().endpoints?.[0]?.data ?? {};
  const pick = (k: string) => Number(data[k] ?? 0);
  return {
    plain_appended: pick("plain_appended"),
    plain_dropped: pick("plain_dropped"),
    plain_ignored: pick("plain_ignored"),
    plain_failed: pick("plain_failed"),
  };
}

const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);

/**
 * The running gateway's id (its verdict subject): the subject the owner's verdict on a join
 * comes to.
 */
async function findGatewayId(stack: Stack, asGateway: NatsConnection): Promise<string> {
  // Verdicts may be read by gateways only.
  const sub = asGateway.subscribe("herald.verdict.*", { max: 1 });
  await asGateway.flush();
  const join = JSON.stringify({ user: "gz-u0", conn: "g0", channel: "gz-room 0" });
  await stack.nc.request(subjects.method("join"), join, { timeout: TIMEOUT_MS });
  for await (const m of sub) return m.subject.slice("herald.verdict.".length);
  throw new Error("no verdict seen");
}

/** Messages in the dead-letter stream, by subject (`herald.dlq.<component>`). */
async function deadLetterCounts(nc: NatsConnection): Promise<Record<string, number>> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info("HERALD_DLQ", { subjects_filter: ">" });
  return Object.fromEntries(
    Object.entries(info.state.subjects ?? {}).map(([s, n]) => [s.replace("herald.dlq.", ""), n as number]),
  );
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fuzz (seed ${SEED}) failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
