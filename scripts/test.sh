#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (SQLite and PostgreSQL, the S3 server),
# then the end2end suite in Chromium, then the OpenClaw plugin through the real gateway. Prints one closing line with the totals.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck disable=SC1091
eval "$(sed -n 's/^export \([A-Z_]*\) := \(.*\)$/export \1=\2/p; s/^CARGO := \(.*\)$/CARGO=\1/p; s/^TOOLS_BIN := \(.*\)$/TOOLS_BIN=\1/p' target/toolchain.env)"
CARGO="${CARGO:-cargo}"
export TOOLS_BIN
export RD_TEST_PG_URL="${RD_TEST_PG_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
export RD_S3S_FS="${RD_S3S_FS:-${TOOLS_BIN:-$HOME/.cache/real-dispatch/tools/bin}/s3s-fs}"
log="$(mktemp)"

# Test databases from earlier runs are dropped first; each test makes its own.
psql "$RD_TEST_PG_URL" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'rdtest\_%'" 2>/dev/null |
  while read -r db; do psql "$RD_TEST_PG_URL" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1; done

echo "== Rust tests (SQLite + PostgreSQL + S3) =="
"$CARGO" test --locked 2>&1 | tee "$log"
rust_rc=${PIPESTATUS[0]}

echo "== end2end (Chromium) =="
scripts/e2e.sh 2>&1 | tee -a "$log"
e2e_rc=${PIPESTATUS[0]}

echo "== docker-compose.yml =="
scripts/compose-check.sh 2>&1 | tee -a "$log"
compose_rc=${PIPESTATUS[0]}

echo "== OpenClaw plugin and the real gateway =="
scripts/openclaw-test.sh 2>&1 | tee -a "$log"
oc_rc=${PIPESTATUS[0]}

passed=$(( $(grep -oE 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}') \
         + $(grep -E '^# pass [0-9]+' "$log" | awk '{s+=$3} END {print s+0}') ))
failed=$(( $(grep -oE '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}') \
         + $(grep -E '^# fail [0-9]+' "$log" | awk '{s+=$3} END {print s+0}') ))
rm -f "$log"
if [ "$rust_rc" -ne 0 ] || [ "$e2e_rc" -ne 0 ] || [ "$compose_rc" -ne 0 ] || [ "$oc_rc" -ne 0 ]; then
  [ "$failed" -gt 0 ] || failed=1
  echo "tests: $passed passed, $failed failed"
  exit 1
fi
echo "tests: $passed passed, $failed failed"
