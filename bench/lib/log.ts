/** Progress lines on stderr (the table and results go to stdout and files). */

const t0 = Date.now();

/** Prints `msg` with the seconds since the bench started. */
export function note(msg: string): void {
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${s}s] ${msg}\n`);
}
