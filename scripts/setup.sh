#!/usr/bin/env bash
# Installs what Herald needs and builds it: pnpm, the dependencies, nats-server (from apt when
# it is missing and apt is there). Safe to run again; does only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$node_major" -ge 20 ] || die "Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))."

if ! command -v pnpm >/dev/null 2>&1; then
  say "installing pnpm"
  npm install -g pnpm@12 >/dev/null 2>&1 ||
    die "could not install pnpm with 'npm install -g pnpm@12' (try it with sudo, or see https://pnpm.io/installation)."
fi

# Debian installs it in /usr/sbin, which is not on a normal user's PATH.
if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then
      command -v sudo >/dev/null 2>&1 || die "nats-server is missing; install it as root: apt-get install -y nats-server"
      sudo="sudo"
    fi
    say "installing nats-server from apt"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nats-server >/dev/null
    # The package starts a system service on port 4222 without JetStream; Herald runs its own
    # server with nats.conf, so stop and disable the one we just installed.
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
      $sudo systemctl disable --now nats-server >/dev/null 2>&1 || true
    fi
  else
    die "nats-server is missing and there is no apt-get here: install nats-server 2.9 or newer and put it on PATH."
  fi
fi

# The browser test drives Debian's chromium (never a downloaded one); `npm start` does not need it.
if [ "${HERALD_SKIP_BROWSER:-}" != 1 ] && ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
    say "installing chromium from apt (for the browser test)"
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; } >/dev/null ||
      say "could not install chromium; the browser test will fail until it is installed (apt-get install chromium)"
  else
    say "chromium is missing and there is no apt-get here: the browser test needs it on PATH"
  fi
fi

say "installing dependencies"
pnpm install --frozen-lockfile --reporter=silent
say "building"
pnpm run --silent build
