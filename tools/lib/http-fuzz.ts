/**
 * The HTTP part of the fuzz (test/fuzz.test.ts, `pnpm fuzz`): sends HTTP inputs to the gateway,
 * a few at a time on keep-alive connections, judges each (http-oracle.ts), and afterwards asks
 * what the gateway itself says: `GET /health` 200, no request counted with status 500 in
 * `/metrics` (`herald_http_requests_total`), and no "HTTP request failed" in its log.
 */
import { Agent } from "node:http";
import type { HttpInput } from "./http-inputs.js";
import { describeHttp, type HttpJudgement, judgeHttp, sendHttp } from "./http-oracle.js";
import { pool } from "./report.js";

export interface HttpProblem {
  readonly kind: string;
  readonly detail: string;
  readonly input: string;
  readonly index: number;
}

/** Sends `inputs` (index `first` onwards), `concurrency` at a time; calls `judged` with each verdict. */
export async function sendAll(
  base: string,
  inputs: readonly HttpInput[],
  opts: {
    readonly concurrency: number;
    readonly timeoutMs: number;
    readonly first?: number;
    readonly judged: (input: HttpInput, j: HttpJudgement, index: number) => void | Promise<void>;
  },
): Promise<void> {
  const url = new URL(base);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  try {
    await pool(inputs, opts.concurrency, async (input, i) => {
      const answer = await sendHttp(url, input, agent, opts.timeoutMs);
      await opts.judged(input, judgeHttp(input, answer), (opts.first ?? 0) + i);
    });
  } finally {
    agent.destroy();
  }
}

/** A problem as one line for reports. */
export function problemLine(input: HttpInput, j: HttpJudgement, index: number): HttpProblem {
  return {
    kind: j.problem?.kind ?? "wrong",
    detail: j.problem?.detail ?? "",
    input: describeHttp(input),
    index,
  };
}

export interface GatewayHttpHealth {
  /** `GET /health`'s status (undefined: no answer). */
  readonly health: number | undefined;
  /** Requests `/metrics` counts with status 500, by route. */
  readonly metrics500: Record<string, number>;
  /** Requests `/metrics` counts, by status. */
  readonly byStatus: Record<string, number>;
}

/** What the gateway says about itself over HTTP. */
export async function gatewayHttpHealth(base: string): Promise<GatewayHttpHealth> {
  const health = await fetch(`${base}/health`, { signal: AbortSignal.timeout(5000) })
    .then((r) => r.status)
    .catch(() => undefined);
  const text = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) })
    .then((r) => r.text())
    .catch(() => "");
  const metrics500: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^herald_http_requests_total\{([^}]*)\} (\S+)$/.exec(line);
    if (m === null) continue;
    const labels = Object.fromEntries(
      [...(m[1] as string).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    const n = Number(m[2]);
    const status = labels.status ?? "?";
    byStatus[status] = (byStatus[status] ?? 0) + n;
    if (status.startsWith("5") && status !== "503") {
      const key = `${labels.method} ${labels.route} ${status}`;
      metrics500[key] = (metrics500[key] ?? 0) + n;
    }
  }
  return { health, metrics500, byStatus };
}

/**
 * The gateway's "HTTP request failed" log lines (logged at error level): those of an internal
 * error, and how many were a client's mistake that the framework refused (a 4xx: body too large,
 * a media type it cannot read) logged as a failure all the same (a finding, docs/ROBUSTNESS.md).
 */
export function failedRequestLines(output: string): { internal: string[]; clientErrors: number } {
  const internal: string[] = [];
  let clientErrors = 0;
  for (const line of output.split("\n")) {
    if (!line.includes('"msg":"HTTP request failed"')) continue;
    let status: unknown;
    try {
      status = (JSON.parse(line) as { err?: { statusCode?: unknown } }).err?.statusCode;
    } catch {
      status = undefined;
    }
    if (typeof status === "number" && status >= 400 && status < 500) clientErrors++;
    else internal.push(line);
  }
  return { internal, clientErrors };
}
