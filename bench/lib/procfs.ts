/**
 * What Linux's /proc says of a process the bench started: CPU time, resident memory, open file
 * descriptors and their limit (raised with prlimit(1) when a measurement needs more).
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICKS = 100;

/** CPU seconds (user + system) of `pid` so far, or NaN when it cannot be read. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces), from field 3: utime is 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) / TICKS;
  } catch {
    return Number.NaN;
  }
}

/** Resident memory of `pid` in bytes (VmRSS, and its anonymous and file-backed parts). */
export interface Rss {
  readonly rss: number;
  readonly anon: number;
  readonly file: number;
}

export function rssOf(pid: number): Rss {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    return m === null ? Number.NaN : Number(m[1]) * 1024;
  };
  return { rss: kib("VmRSS"), anon: kib("RssAnon"), file: kib("RssFile") };
}

/** File descriptors `pid` has open now. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The soft and hard limits of open files of `pid`. */
export function fdLimits(pid: number): { soft: number; hard: number } {
  const limits = readFileSync(`/proc/${pid}/limits`, "utf8");
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  const num = (s: string | undefined) => (s === "unlimited" ? Number.POSITIVE_INFINITY : Number(s));
  return { soft: num(m?.[1]), hard: num(m?.[2]) };
}

/**
 * Makes sure `pid` may open `needed` files: raises its soft limit to its hard limit with
 * prlimit(1) when the soft one is lower; throws when even the hard limit is too low. Returns
 * the soft limit now and whether it was raised.
 */
export function ensureFdLimit(pid: number, needed: number, what: string): { soft: number; raised: boolean } {
  const { soft, hard } = fdLimits(pid);
  if (soft >= needed) return { soft, raised: false };
  if (hard < needed) {
    throw new Error(
      `${what} (pid ${pid}) needs ${needed} file descriptors but its hard limit is ${hard}: ` +
        "raise it (ulimit -Hn, /etc/security/limits.conf) or ask for fewer clients",
    );
  }
  const to = Number.isFinite(hard) ? String(hard) : "unlimited";
  execFileSync("prlimit", [`--pid=${pid}`, `--nofile=${to}:${to}`]);
  const now = fdLimits(pid).soft;
  if (now < needed) throw new Error(`${what} (pid ${pid}): prlimit left its soft limit at ${now}`);
  return { soft: now, raised: true };
}

/** CPU seconds the whole machine spent busy so far (every core; /proc/stat). */
export function machineBusySeconds(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / TICKS;
}
