import type { LogFormat, LogLevel } from "@herald/protocol";
import { type Logger, pino } from "pino";

export type { Logger } from "pino";

export interface LoggerOptions {
  readonly level: LogLevel;
  /** The worker or tool this log belongs to (`gateway`, `presence-actor`, …). */
  readonly component: string;
  /** `auto` (default): pretty when stdout is a terminal, JSON otherwise. */
  readonly format?: LogFormat;
}

/** pino, pretty in a terminal and JSON otherwise, bound to the component. */
export function createLogger(opts: LoggerOptions): Logger {
  const format = opts.format ?? "auto";
  const pretty = format === "pretty" || (format === "auto" && process.stdout.isTTY === true);
  return pino({
    level: opts.level,
    base: { component: opts.component, pid: process.pid },
    ...(pretty
      ? { transport: { target: "pino-pretty", options: { colorize: true, ignore: "pid,hostname" } } }
      : {}),
  });
}
