#!/usr/bin/env bash
# Installs what building, running and testing Real Dispatch needs, and nothing twice.
#
#   scripts/bootstrap.sh run    toolchain for the server and the wasm client, wasm-bindgen-cli
#   scripts/bootstrap.sh test   the above, plus PostgreSQL, an S3-compatible server, Chromium,
#                               and the end2end npm packages
#
# It writes target/toolchain.env, which the Makefile includes: which cargo/rustc build the
# project and whether the wasm32 standard library must be built from source (-Zbuild-std).
# Every step checks before it installs, so a second run only prints what it found.
set -euo pipefail

mode="${1:-run}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mkdir -p target

log() { printf '\033[1;34m[bootstrap]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[bootstrap] error:\033[0m %s\n' "$*" >&2; exit 1; }

# A test build takes about 4.5 GB in target/ and the tools about 1 GB (README, "Disk"). Say so
# before installing or building anything: a full disk otherwise shows up as a linker or SQLite
# error far into the run.
if [ "$mode" = test ]; then
  need_gib=6
  avail_gib=$(( $(df -Pk target | awk 'NR == 2 {print $4}') / 1024 / 1024 ))
  if [ "$avail_gib" -lt "$need_gib" ]; then
    log "warning: only ${avail_gib} GiB free under $root/target; a test build needs about ${need_gib} GiB (cargo clean, or remove other checkouts' target folders)"
  fi
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
apt_updated=""
apt_install() {
  command -v apt-get >/dev/null || die "need $*, but apt-get is not available: install them by hand"
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    $SUDO apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

lock_version() { # version of a package in Cargo.lock
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

# ---------------------------------------------------------------------------------------------
# 1. The Rust toolchain. Prefer rustup's wasm32 target (a developer laptop); where rustup cannot
#    download it, use Debian's rustc-web, which ships the std sources for -Zbuild-std. Debian's
#    compiler then builds the server too, so host artifacts (proc macros, build scripts) are
#    compiled once and shared by both builds.
# ---------------------------------------------------------------------------------------------
toolchain=""
if [ -z "${RD_TOOLCHAIN:-}" ] || [ "${RD_TOOLCHAIN}" = rustup ]; then
  if command -v rustup >/dev/null 2>&1; then
    if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
      toolchain=rustup
    elif timeout 120 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
      log "added rustup target wasm32-unknown-unknown"
      toolchain=rustup
    else
      log "rustup cannot add wasm32-unknown-unknown here; using Debian's rustc-web"
    fi
  fi
fi
[ -n "$toolchain" ] || toolchain=debian

if [ "$toolchain" = debian ]; then
  if [ ! -x /usr/bin/cargo ] || [ ! -x /usr/bin/rust-lld ] || [ ! -d /usr/lib/rustlib/src/rust/library ] || ! /usr/bin/rustc --version | grep -qE '^rustc 1\.(9[0-9]|[1-9][0-9]{2})'; then
    apt_install rustc-web cargo-web rust-web-src rust-web-llvm lld-22
  fi
  cat > target/toolchain.env <<EOF
# written by scripts/bootstrap.sh
CARGO := /usr/bin/cargo
export RUSTC := /usr/bin/rustc
export RUSTDOC := /usr/bin/rustdoc
export RUSTC_BOOTSTRAP := 1
WASM_STD_FLAGS := -Zbuild-std=std,panic_abort
EOF
  CARGO=/usr/bin/cargo
  export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
else
  CARGO="$(command -v cargo)"
  cat > target/toolchain.env <<EOF
# written by scripts/bootstrap.sh
CARGO := $CARGO
WASM_STD_FLAGS :=
EOF
fi
log "toolchain: $toolchain ($("$CARGO" --version))"

# Tools installed with `cargo install` land here (on PATH for the Makefile).
# --locked first (the versions their authors tested); if the registry no longer serves one of
# those exact versions (yanked), resolve afresh rather than fail.
cargo_install() {
  "$CARGO" install --quiet --locked --root "$tools" "$@" 2>/dev/null \
    || { log "locked install failed; resolving dependencies afresh"; "$CARGO" install --quiet --root "$tools" "$@"; }
}
tools="${RD_TOOLS_DIR:-$HOME/.cache/real-dispatch/tools}"
mkdir -p "$tools/bin"
echo "TOOLS_BIN := $tools/bin" >> target/toolchain.env

# wasm-bindgen-cli must match the wasm-bindgen library in Cargo.lock exactly.
wb_version="$(lock_version wasm-bindgen)"
[ -n "$wb_version" ] || die "wasm-bindgen not found in Cargo.lock"
if ! "$tools/bin/wasm-bindgen" --version 2>/dev/null | grep -q " $wb_version\$"; then
  log "cargo install wasm-bindgen-cli $wb_version (a few minutes, once)"
  cargo_install wasm-bindgen-cli --version "$wb_version"
fi

# wasm-opt (binaryen) shrinks the wasm client (Makefile `client`). Debian 12's binaryen (108)
# writes the client's externref table back as anyref, which browsers refuse when the page
# hydrates; binaryen 132's JavaScript build from npm (run by Node) keeps it.
binaryen_version=132.0.0
wasm_opt="$tools/binaryen/node_modules/.bin/wasm-opt"
if ! "$wasm_opt" --version 2>/dev/null | grep -q "version ${binaryen_version%%.*} "; then
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_install nodejs npm
  fi
  log "npm install binaryen@$binaryen_version (wasm-opt, once)"
  mkdir -p "$tools/binaryen"
  [ -f "$tools/binaryen/package.json" ] || echo '{"private": true}' >"$tools/binaryen/package.json"
  (cd "$tools/binaryen" && npm install --no-audit --no-fund --loglevel=error "binaryen@$binaryen_version")
  "$wasm_opt" --version >/dev/null || die "wasm-opt from npm binaryen@$binaryen_version does not run on $(node --version)"
fi
echo "WASM_OPT := $wasm_opt" >> target/toolchain.env
# brotli precompresses the site's files (scripts/site.sh); gzip is always there.
if ! command -v brotli >/dev/null; then
  apt_install brotli
fi

if [ "$mode" = run ]; then
  log "ready to build and run"
  exit 0
fi
[ "$mode" = test ] || die "unknown mode '$mode' (run|test)"

# ---------------------------------------------------------------------------------------------
# 2. PostgreSQL: use the one reachable at RD_TEST_PG_URL's host if any, else Debian's.
# ---------------------------------------------------------------------------------------------
pg_ready() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }
if ! pg_ready; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql
  fi
  ver="$(ls /etc/postgresql | sort -V | tail -1)"
  log "starting PostgreSQL $ver"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || $SUDO pg_ctlcluster "$ver" main start
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
  pg_ready || die "PostgreSQL did not become ready on 127.0.0.1:5432"
  # A cluster we started ourselves uses password auth on TCP: give the test user a known one.
  $SUDO -u postgres psql -qc "ALTER USER postgres PASSWORD 'postgres'" >/dev/null 2>&1 || true
fi

# ---------------------------------------------------------------------------------------------
# 3. A real S3 server for blob-store tests (checks SigV4 signatures; see README).
# ---------------------------------------------------------------------------------------------
if ! [ -x "$tools/bin/s3s-fs" ]; then
  log "cargo install s3s-fs 0.14.1 (a few minutes, once)"
  cargo_install s3s-fs --version 0.14.1 --features binary
fi

# ---------------------------------------------------------------------------------------------
# 4. Chromium and Playwright (playwright-core only: it drives the system Chromium).
# ---------------------------------------------------------------------------------------------
if ! [ -x /usr/bin/chromium ]; then
  apt_install chromium fonts-liberation
fi
# `docker-compose config` validates docker-compose.yml (scripts/compose-check.sh).
if ! command -v docker-compose >/dev/null && ! { command -v docker >/dev/null && docker compose version >/dev/null 2>&1; }; then
  apt_install docker-compose
fi
# pdftoppm renders the closeout packet PDF to a PNG in the end2end suite.
if ! command -v pdftoppm >/dev/null; then
  apt_install poppler-utils
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt_install nodejs npm
fi
if ! [ -f end2end/node_modules/playwright-core/package.json ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  log "npm ci (end2end)"
  (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
fi

# Schemathesis fuzzes the tool API from its own OpenAPI document (end2end stage).
if ! "$tools/schemathesis/bin/st" --version 2>/dev/null | grep -q "4.32.5"; then
  python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv
  log "pip install schemathesis (once)"
  rm -rf "$tools/schemathesis"
  python3 -m venv "$tools/schemathesis"
  "$tools/schemathesis/bin/pip" install --quiet --disable-pip-version-check schemathesis==4.32.5
fi

log "ready to test"
