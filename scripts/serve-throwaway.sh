# Sourced by e2e.sh and openclaw-test.sh: starts "$bin" serve on "$port" with its log in
# "$work", removes "$work" and stops the server when the script exits, and returns once the
# server answers /readyz (or stops the script with the server's log if it exits first).
"$bin" serve >"$work/server.log" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; echo "server exited" >&2; exit 1; }
  sleep 0.2
done
