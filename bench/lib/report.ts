/** The outputs of a run: the table on stdout, `latest.json` and the chart `latest.svg`. */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { natsServerBinary } from "@herald/testkit";
import { repoRoot } from "./ipc.js";
import type { Options } from "./options.js";
import { type Figure, ratio } from "./results.js";

export const resultsDir = join(repoRoot, "bench", "results");

const fmt = (x: number | null, unit = ""): string => {
  if (x === null) return "—";
  const digits = unit === "ms" || unit === "s" || unit === "KiB" ? 2 : 0;
  return x.toLocaleString("en", { maximumFractionDigits: Math.abs(x) < 10 && digits === 0 ? 2 : digits });
};
const fmtRatio = (r: number | null) => {
  if (r === null) return "—";
  return `×${r >= 10 ? r.toFixed(0) : r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)}`;
};

/** The table as aligned text. */
export function table(figures: readonly Figure[]): string {
  const head = ["figure", "value", "unit", "baselines (same run)", "Herald ÷ baseline", "target", "result"];
  const rows = figures.map((f) => [
    f.id === "heartbeats" ? `${f.name} ★` : f.name,
    f.value === null ? "not reached" : fmt(f.value, f.unit),
    f.unit,
    f.baselines.map((b) => `${b.name}: ${b.atLeast ? "≥ " : ""}${fmt(b.value, f.unit)}`).join("; ") || "—",
    f.baselines.map((b) => `${b.atLeast ? "≤ " : ""}${fmtRatio(ratio(f.value, b.value))}`).join("; ") || "—",
    f.target ?? "—",
    f.pass === undefined || f.pass === null ? "" : f.pass ? "pass" : "MISS",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 1 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join(" | ");
  return [
    line(head),
    widths.map((w) => "-".repeat(w)).join("-|-"),
    ...rows.map(line),
    "",
    "★ headline: heartbeats batched 100 per message. Herald ÷ baseline: above 1 means Herald is higher",
    "(better for rates, worse for latencies and bytes). ≥: a lower bound (samples that never arrived",
    "count at the time waited for them). not reached: more samples never arrived (within the time",
    "waited) than the percentile leaves out; latest.json has the counts.",
  ].join("\n");
}

function versionOf(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

/** Where and with what the run happened. */
export function environment(opts: Options, redisVersion: string | undefined): Record<string, unknown> {
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    natsServer: versionOf(natsServerBinary(), ["--version"]).replace(/^nats-server:\s*/, ""),
    redis: redisVersion ?? "not used",
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    platform: `${process.platform} ${process.arch}`,
    commit: versionOf("git", ["-C", repoRoot, "rev-parse", "--short", "HEAD"]),
    options: { ...opts, only: [...opts.only] },
  };
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Horizontal bars per figure: Herald and its baselines on one scale, the target as a line. */
export function chart(figures: readonly Figure[], env: Record<string, unknown>): string {
  const width = 980;
  const labelW = 300;
  const barMax = width - labelW - 150;
  const shown = figures.filter((f) => f.value !== null && (f.baselines.length > 0 || f.target !== undefined));
  const parts: string[] = [];
  let y = 72;
  for (const f of shown) {
    const bars = [
      { name: "Herald", value: f.value, herald: true },
      ...f.baselines.map((b) => ({ ...b, herald: false })),
    ];
    const targetValue = f.targetValue;
    const scale = Math.max(...bars.map((b) => b.value ?? 0), targetValue ?? 0) || 1;
    const verdict = f.pass === true ? " ✓ target met" : f.pass === false ? " ✗ target missed" : "";
    const better = f.better === "higher" ? "higher is better" : "lower is better";
    parts.push(
      `<text x="10" y="${y}" class="t">${esc(f.name)}</text>`,
      `<text x="${width - 10}" y="${y}" class="n" text-anchor="end">${esc(`${better}${f.target ? `; target ${f.target}` : ""}${verdict}`)}</text>`,
    );
    y += 8;
    const top = y;
    for (const b of bars) {
      const w = b.value === null ? 0 : Math.max(1, (b.value / scale) * barMax);
      parts.push(
        `<text x="${labelW - 8}" y="${y + 13}" class="l" text-anchor="end">${esc(b.name)}</text>`,
        `<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="16" class="${b.herald ? "h" : "b"}"/>`,
        `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 13}" class="v">${esc(b.value === null ? "not reached" : `${"atLeast" in b && b.atLeast ? "≥ " : ""}${fmt(b.value, f.unit)} ${f.unit}`)}</text>`,
      );
      y += 20;
    }
    if (targetValue !== undefined) {
      const x = labelW + (targetValue / scale) * barMax;
      parts.push(`<line x1="${x.toFixed(1)}" y1="${top - 3}" x2="${x.toFixed(1)}" y2="${y}" class="g"/>`);
    }
    y += 22;
  }
  const title = `Herald benchmark — ${String(env.date).slice(0, 16)} — ${env.cpus} CPUs, node ${env.node}, nats-server ${env.natsServer}, redis ${env.redis}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 10}" viewBox="0 0 ${width} ${y + 10}" font-family="sans-serif">
<style>.t{font-size:13px;font-weight:bold}.n{font-size:11px;fill:#555}.l{font-size:12px}.v{font-size:11px}.h{fill:#2b6cb0}.b{fill:#a0aec0}.g{stroke:#c53030;stroke-width:2;stroke-dasharray:4 3}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="24" font-size="16" font-weight="bold">${esc(title)}</text>
<text x="10" y="42" class="n">Blue: Herald; grey: baselines measured in the same run; red dashed line: the issue's target.</text>
${parts.join("\n")}
</svg>
`;
}

export function writeResults(
  figures: readonly Figure[],
  env: Record<string, unknown>,
  errors: readonly string[],
): void {
  mkdirSync(resultsDir, { recursive: true });
  const json = {
    environment: env,
    errors,
    figures: figures.map((f) => ({
      ...f,
      ratios: f.baselines.map((b) => ({ baseline: b.name, ratio: ratio(f.value, b.value) })),
    })),
  };
  writeFileSync(join(resultsDir, "latest.json"), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(resultsDir, "latest.svg"), chart(figures, env));
}
