#!/usr/bin/env bash
# `npm test`: set up what is missing, then typecheck, lint and run every test (unit,
# integration against a real nats-server, whole-system with the workers as processes).
# The test runner's results are also written to .test-results/vitest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[test] typecheck"
pnpm run --silent typecheck
echo "[test] lint"
pnpm exec biome check .
echo "[test] vitest"
mkdir -p .test-results
pnpm exec vitest run --project unit --project integration --project system --reporter=default --reporter=json --outputFile.json=.test-results/vitest.json "$@"
