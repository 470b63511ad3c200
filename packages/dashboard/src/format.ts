/** How the page writes numbers, sizes, durations and times (pure). */

const integer = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en", { maximumFractionDigits: 1 });

export function count(n: number): string {
  return integer.format(n);
}

/** A rate: one decimal below 10, none above; a dash when unknown. */
export function rate(n: number | null | undefined): string {
  if (n === null || n === undefined) return "–";
  return n < 10 ? decimal.format(n) : integer.format(n);
}

export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : decimal.format(v)} ${units[i]}`;
}

export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** Local time of day with milliseconds, and the date when it is not today. */
export function time(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  const today = new Date(now);
  const sameDay =
    d.getFullYear() === today.getFullYear() &&
    d.getMonth() === today.getMonth() &&
    d.getDate() === today.getDate();
  return sameDay ? t : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}`;
}

/** Unix seconds (the API's `online`/`active`) as a local time. */
export function seconds(s: number | undefined, now = Date.now()): string {
  return s === undefined ? "–" : time(s * 1000, now).replace(/\.\d{3}$/, "");
}

/** `0–3, 7, 9–10`: consecutive partitions as ranges. */
export function ranges(partitions: readonly number[]): string {
  const sorted = [...partitions].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] as number) + 1) j++;
    out.push(j === i ? `${sorted[i]}` : `${sorted[i]}–${sorted[j]}`);
    i = j + 1;
  }
  return out.join(", ");
}
