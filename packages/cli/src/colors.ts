/**
 * Colours for a terminal, off where they would be noise: `NO_COLOR` (https://no-color.org),
 * output that is not a terminal (a pipe, a file), `TERM=dumb`; `FORCE_COLOR` turns them on.
 */
import picocolors from "picocolors";

export type Colors = ReturnType<typeof picocolors.createColors>;

/** Whether to colour what goes to `stream`. */
export function colorEnabled(
  stream: { readonly isTTY?: boolean },
  env: Readonly<Record<string, string | undefined>>,
): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true && env.TERM !== "dumb";
}

export function colors(enabled: boolean): Colors {
  return picocolors.createColors(enabled);
}
