# Real Dispatch — build, run and test. See README.md.
#
#   make run    install what is missing, build, migrate, seed demo data, serve on :3000
#   make test   install what is missing, build, run every test (SQLite, PostgreSQL, S3, Chromium)
#
# scripts/bootstrap.sh decides the toolchain and writes target/toolchain.env (included here).

-include target/toolchain.env
CARGO ?= cargo
TOOLS_BIN ?= $(HOME)/.cache/real-dispatch/tools/bin
SITE := target/site
# PROFILE=release builds an optimised server. The wasm client is always the size-optimised
# one (profile wasm-release, then wasm-opt -Oz): it is what every browser downloads.
# CLIENT_PROFILE=dev builds a debug client quickly while working on the pages (unoptimised,
# about 20 MB; not for serving to phones).
PROFILE ?= dev
ifeq ($(PROFILE),release)
  SERVER_FLAGS := --release
  BIN := target/release/real-dispatch
else
  SERVER_FLAGS :=
  BIN := target/debug/real-dispatch
endif
CLIENT_PROFILE ?= wasm-release
ifeq ($(CLIENT_PROFILE),dev)
  CLIENT_DIR := debug
else
  CLIENT_DIR := $(CLIENT_PROFILE)
endif
CLIENT_OUT := target/client
# wasm-opt (binaryen 132, from npm) as scripts/bootstrap.sh installed it, with the wasm features
# rustc emits.
# Inlining is off: it makes the file smaller but less compressible (-Oz with it: 3.03 MB,
# 706 KB brotli; without: 3.18 MB, 626 KB brotli), and brotli is what travels.
WASM_OPT ?= wasm-opt
WASM_OPT_FLAGS ?= -Oz -aimfs 0 -ocimfs 0 -fimfs 0 --strip-debug --strip-producers \
	--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
	--enable-reference-types --enable-multivalue

.PHONY: run test build server client site bootstrap-run bootstrap-test test-rust test-e2e bench bench-http bench-wire bench-board bench-upload bench-web clean-site

run: bootstrap-run
	@$(MAKE) --no-print-directory build
	@$(BIN) migrate
	@$(BIN) seed --demo
	@echo "Real Dispatch on http://$${RD_BIND:-127.0.0.1:3000}/console  (Ctrl-C stops)"
	@$(BIN) serve

# The server binary comes from `cargo test` (it builds it for the integration tests, with the
# test features unified in); building it here too would compile the server twice.
test: bootstrap-test
	@$(MAKE) --no-print-directory client site
	@scripts/test.sh

bootstrap-run:
	@scripts/bootstrap.sh run

bootstrap-test:
	@scripts/bootstrap.sh test

build: server client site

server:
	$(CARGO) build --locked $(SERVER_FLAGS) --bin real-dispatch

# Two clients from one build of the app: the whole app (`client`), and the phone pages alone
# (`field-client`: the technician's job page and the portal, about half the size).
CLIENTS := client:real-dispatch field_client:field
client:
	$(CARGO) build --locked -p client -p field-client --lib --target wasm32-unknown-unknown --features hydrate --profile $(CLIENT_PROFILE) $(WASM_STD_FLAGS)
	@rm -rf $(CLIENT_OUT) && mkdir -p $(CLIENT_OUT)
ifeq ($(CLIENT_PROFILE),dev)
	for c in $(CLIENTS); do \
		$(TOOLS_BIN)/wasm-bindgen --target web --no-typescript --out-dir $(CLIENT_OUT) --out-name $${c#*:} \
			target/wasm32-unknown-unknown/$(CLIENT_DIR)/$${c%%:*}.wasm || exit 1; \
	done
else
	for c in $(CLIENTS); do \
		name=$${c#*:}; \
		$(TOOLS_BIN)/wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
			--out-dir $(CLIENT_OUT) --out-name $$name target/wasm32-unknown-unknown/$(CLIENT_DIR)/$${c%%:*}.wasm || exit 1; \
		$(WASM_OPT) $(WASM_OPT_FLAGS) -o $(CLIENT_OUT)/$${name}_bg.opt.wasm $(CLIENT_OUT)/$${name}_bg.wasm || exit 1; \
		mv $(CLIENT_OUT)/$${name}_bg.opt.wasm $(CLIENT_OUT)/$${name}_bg.wasm; \
	done
endif

# The site root: the client's files named by content, listed in assets.json, precompressed.
site:
	scripts/site.sh $(CLIENT_OUT) $(SITE)

bench: bootstrap-test
	$(CARGO) bench --locked -p dispatch --features test-support --bench lifecycle

bench-http: bootstrap-test
	$(CARGO) bench --locked --bench http_lifecycle

# The lifecycle mix against a running release server, beside pgbench (see benches/wire.rs):
#   make bench-wire                        starts its own release server on SQLite, then PostgreSQL
#   make bench-wire URL=http://host:3000   a server that is running (with its DATABASE_URL set here)
bench-wire: bootstrap-test
	$(CARGO) build --locked --release --bin real-dispatch
	BENCH_URL=$(URL) RD_BIN=target/release/real-dispatch $(CARGO) bench --locked --bench wire

bench-board: bootstrap-test
	$(CARGO) bench --locked --bench board

bench-upload: bootstrap-test
	RD_S3S_FS=$(TOOLS_BIN)/s3s-fs $(CARGO) bench --locked --bench upload

# Page weight and time to usable on a slow phone, against a release server (end2end/bench-web.mjs).
bench-web: bootstrap-test
	@$(MAKE) --no-print-directory PROFILE=release server client site
	cd end2end && BENCH_BIN=$(CURDIR)/target/release/real-dispatch RD_SITE_ROOT=$(CURDIR)/$(SITE) node bench-web.mjs

clean-site:
	rm -rf $(SITE)
