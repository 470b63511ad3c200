#!/usr/bin/env bash
# `npm start`: set up what is missing, then run nats-server (with nats.conf) and the three
# workers as separate processes, with prefixed logs, until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node scripts/run.mjs
