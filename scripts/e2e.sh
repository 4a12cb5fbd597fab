#!/usr/bin/env bash
# Starts the built server on a throwaway SQLite database and runs the Playwright suite
# (end2end/) in Debian's Chromium against it. Output: end2end TAP, screenshots in
# end2end/test-results/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${RD_BIN:-$root/target/debug/real-dispatch}"
port="${E2E_PORT:-3199}"
work="$(mktemp -d)"
# A shop in Chicago: every page shows local times (CST/CDT), the same before and after hydration.
export RD_DATA_DIR="$work/data" RD_BIND="127.0.0.1:$port" RD_SITE_ROOT="$root/target/site" RUST_LOG="${RUST_LOG:-warn}" RD_TIMEZONE="${RD_TIMEZONE:-America/Chicago}"
# The fuzzing stage sends thousands of calls; the rate limit is tested on its own.
export RD_TOOL_RATE_PER_MINUTE=1000000
# The suite signs the same few people in from one address several times a minute (each walk
# on a fresh phone); the sign-in limit is tested on its own (tests/http/web_auth.rs).
export RD_SIGN_INS_PER_MINUTE=600
unset DATABASE_URL RD_S3_ENDPOINT

"$bin" migrate >/dev/null
token="$("$bin" token create --role intake_agent --name end2end | tail -n 1)"
operator_token="$("$bin" token create --role operator --name schemathesis | tail -n 1)"
export E2E_PASSWORD="e2e-password-$RANDOM$RANDOM"
tech_id="$("$bin" technician create --name "E2E Tech" --skill hvac | tail -n 1)"
RD_PASSWORD="$E2E_PASSWORD" "$bin" user create --email operator@e2e.test --role operator --name "E2E Operator" >/dev/null
RD_PASSWORD="$E2E_PASSWORD" "$bin" user create --email admin@e2e.test --role admin --name "E2E Admin" >/dev/null
RD_PASSWORD="$E2E_PASSWORD" "$bin" user create --email tech@e2e.test --role technician --name "E2E Tech" \
  --technician "$tech_id" >/dev/null
# shellcheck source=scripts/serve-throwaway.sh
source "$root/scripts/serve-throwaway.sh"

cd "$root/end2end"
rc=0
E2E_BIN="$bin" E2E_BASE_URL="http://127.0.0.1:$port" E2E_TOKEN="$token" E2E_OPERATOR_TOKEN="$operator_token" E2E_TECH_ID="$tech_id" node --test --test-concurrency=1 ${E2E_NODE_ARGS:-} ${E2E_TESTS:-} || rc=$?
# E2E_TESTS=tests/x.test.mjs runs only those files (and skips the fuzzing), for development;
# E2E_NODE_ARGS="--test-name-pattern=…" only the tests whose names match.
if [ -n "${E2E_TESTS:-}" ]; then
  if [ "$rc" -ne 0 ]; then echo "--- server log ---"; tail -n 50 "$work/server.log"; fi
  exit "$rc"
fi

# Property-based fuzzing of the tool API from /openapi.json: no server errors, only
# documented status codes, and responses that match their published schemas.
st="${TOOLS_BIN:-$HOME/.cache/real-dispatch/tools/bin}/../schemathesis/bin/st"
if [ -x "$st" ]; then
  echo "== schemathesis (tool API from /openapi.json) =="
  if ! "$st" run "http://127.0.0.1:$port/openapi.json" -H "Authorization: Bearer $operator_token" \
      --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
      --phases examples,coverage,fuzzing --max-examples 30 --workers 1 --seed 1 >"$work/st.log" 2>&1; then
    rc=1
    tail -n 60 "$work/st.log"
  fi
  grep -E "generated," "$work/st.log" | tail -n 1 | sed 's/^ */schemathesis: /'
else
  echo "schemathesis not installed (scripts/bootstrap.sh test installs it)" >&2
  rc=1
fi
if [ "$rc" -ne 0 ]; then echo "--- server log ---"; tail -n 50 "$work/server.log"; fi
exit "$rc"
