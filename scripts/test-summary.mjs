// Prints `N passed, N failed` from vitest's JSON report and exits non-zero when anything
// failed, when the test command failed, or when no test ran.
import { existsSync, readFileSync } from "node:fs";

const [file = ".test-results/vitest.json", statusArg = "0"] = process.argv.slice(2);
const status = Number(statusArg);
let passed = 0;
let failed = 0;
if (existsSync(file)) {
  const report = JSON.parse(readFileSync(file, "utf8"));
  passed = report.numPassedTests ?? 0;
  failed = report.numFailedTests ?? 0;
  // A file that failed to load has no tests but must still count as a failure.
  for (const suite of report.testResults ?? []) {
    if (suite.status === "failed" && (suite.assertionResults ?? []).length === 0) failed += 1;
  }
} else {
  // The command failed before the test runner wrote results (setup, typecheck or lint).
  failed = 1;
}
if (status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(status !== 0 || failed > 0 || passed === 0 ? 1 : 0);
