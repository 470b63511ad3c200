#!/usr/bin/env node
// The `herald` command line: runs the arguments and exits with the code of how it went.
import { run } from "./program.js";

const code = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
  now: Date.now,
});
// Whatever is still open (a stdin listener, a timer) must not keep a finished command alive;
// stdout is written to the end first.
process.exitCode = code;
if (process.stdout.writableNeedDrain) process.stdout.once("drain", () => process.exit(code));
else process.exit(code);
