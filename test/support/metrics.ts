/** A process's `/metrics`, fetched and parsed as Prometheus text (by a parser made for it). */
import parse, { type Family } from "parse-prometheus-text-format";

export interface Scrape {
  readonly families: readonly Family[];
  /** The value of the sample of `name` whose labels include `labels` (0 when there is none). */
  value(name: string, labels?: Record<string, string>): number;
}

export async function scrape(baseUrl: string): Promise<Scrape> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const families = parse(await res.text());
  return {
    families,
    value(name, labels = {}) {
      const family = families.find((f) => f.name === name);
      const sample = family?.metrics.find((m) =>
        Object.entries(labels).every(([k, v]) => m.labels?.[k] === v),
      );
      if (sample === undefined) return 0;
      return Number(sample.value ?? sample.count ?? Number.NaN);
    },
  };
}
