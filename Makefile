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
# PROFILE=release builds optimised binaries (and the size-optimised wasm-release client).
PROFILE ?= dev
ifeq ($(PROFILE),release)
  SERVER_FLAGS := --release
  CLIENT_FLAGS := --profile wasm-release
  CLIENT_DIR := wasm-release
  BIN := target/release/real-dispatch
else
  SERVER_FLAGS :=
  CLIENT_FLAGS :=
  CLIENT_DIR := debug
  BIN := target/debug/real-dispatch
endif

.PHONY: run test build server client site bootstrap-run bootstrap-test test-rust test-e2e bench bench-http bench-wire bench-board bench-upload clean-site

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

client:
	$(CARGO) build --locked -p client --lib --target wasm32-unknown-unknown --features hydrate $(CLIENT_FLAGS) $(WASM_STD_FLAGS)
	@mkdir -p $(SITE)/pkg
	$(TOOLS_BIN)/wasm-bindgen --target web --no-typescript --out-dir $(SITE)/pkg --out-name real-dispatch \
		target/wasm32-unknown-unknown/$(CLIENT_DIR)/client.wasm

site:
	@mkdir -p $(SITE)/pkg
	cp -R public/. $(SITE)/
	cp style/main.css $(SITE)/pkg/real-dispatch.css

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

clean-site:
	rm -rf $(SITE)
