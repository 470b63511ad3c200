// Prints `N passed, N failed, N skipped` from vitest's JSON report and exits non-zero when
// anything failed, when the test command failed, or when no test ran.
//
// What vitest 4 writes for a file (testResults[]): `status` "failed" whenever anything in it
// failed, `message` the error of a file-level failure (an import that threw, a top-level
// beforeAll/afterAll) or "" otherwise, and `assertionResults[].status` per test. A failing
// hook is not a failed test: a failing beforeAll marks its tests "skipped", a failing afterAll
// leaves them "passed" (with the describe-level hooks, `message` stays ""). So a file counts as
// one more failure when it failed without a failed test, or with a file-level message.
import { existsSync, readFileSync } from "node:fs";
import { relative } from "node:path";

const [file = ".test-results/vitest.json", statusArg = "0"] = process.argv.slice(2);
const status = Number(statusArg);
let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(file)) {
  const report = JSON.parse(readFileSync(file, "utf8"));
  for (const suite of report.testResults ?? []) {
    let failedHere = 0;
    for (const test of suite.assertionResults ?? []) {
      if (test.status === "passed") passed += 1;
      else if (test.status === "failed") failedHere += 1;
      else skipped += 1; // "skipped", "pending", "todo", or a test a failing beforeAll never ran
    }
    failed += failedHere;
    const message = typeof suite.message === "string" ? suite.message : "";
    if (suite.status === "failed" && (failedHere === 0 || message !== "")) {
      failed += 1;
      const name = typeof suite.name === "string" ? relative(process.cwd(), suite.name) : "?";
      const why = message !== "" ? message.split("\n")[0] : "a beforeAll/afterAll hook failed";
      console.log(`failed outside its tests: ${name}: ${why}`);
    }
  }
} else {
  // The command failed before the test runner wrote results (setup, typecheck or lint).
  failed = 1;
}
if (status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(status !== 0 || failed > 0 || passed === 0 ? 1 : 0);
