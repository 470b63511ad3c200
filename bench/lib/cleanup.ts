/**
 * Everything the bench starts registers how to stop it here, so that a finished run, a failure
 * and Ctrl-C all leave no process behind: disposers run last-registered first.
 */

type Disposer = () => Promise<void> | void;

const disposers: { readonly what: string; readonly fn: Disposer }[] = [];
let running: Promise<void> | undefined;

/** Registers `fn` to run at cleanup; returns a function that runs it now (and only once). */
export function defer(what: string, fn: Disposer): () => Promise<void> {
  const entry = { what, fn };
  disposers.push(entry);
  return async () => {
    const i = disposers.indexOf(entry);
    if (i < 0) return;
    disposers.splice(i, 1);
    await fn();
  };
}

/** Runs every registered disposer (newest first); errors are reported, not thrown. */
export function cleanupAll(): Promise<void> {
  running ??= (async () => {
    while (disposers.length > 0) {
      const { what, fn } = disposers.pop() as (typeof disposers)[number];
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`cleanup of ${what} failed: ${(err as Error).message}\n`);
      }
    }
  })();
  return running;
}

/**
 * On SIGINT/SIGTERM: `first` (e.g. keep what was measured so far), stop everything, then exit
 * 130 (a second signal exits at once).
 */
export function cleanupOnSignals(first: () => void = () => {}): void {
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping every process the bench started…\n`);
    try {
      first();
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
    }
    void cleanupAll().finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
