#!/usr/bin/env bash
# Lays out the site root the server serves (RD_SITE_ROOT, default target/site) from the built
# client (target/client: wasm-bindgen's JavaScript and the optimised wasm), style/main.css and
# public/:
#   - the client's JavaScript, wasm and CSS are named by their content
#     (pkg/real-dispatch.<16 hex>.wasm), so browsers may keep them for a year;
#   - assets.json lists those names for the server (it is not served);
#   - every file gets a brotli (.br) and a gzip (.gz) copy beside it where that is smaller.
# The new site is built beside the old one and then swapped in.
#
#   scripts/site.sh [CLIENT_DIR] [SITE_DIR]
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
client="${1:-target/client}"
site="${2:-target/site}"
command -v brotli >/dev/null || { echo "site: the brotli command is missing (scripts/bootstrap.sh installs it)" >&2; exit 1; }
for f in "$client/real-dispatch.js" "$client/real-dispatch_bg.wasm"; do
  [ -f "$f" ] || { echo "site: $f is missing; build the client first (make client)" >&2; exit 1; }
done

next="$site.new"
rm -rf "$next"
mkdir -p "$next/pkg"
cp -R public/. "$next/"

# Copies $1 into pkg/ as <name $3>.<hash>.<ext $2> and prints its URL path.
hashed() {
  local hash name="${3:-real-dispatch}"
  hash="$(sha256sum "$1" | cut -c1-16)"
  cp "$1" "$next/pkg/$name.$hash.$2"
  printf '/pkg/%s.%s.%s' "$name" "$hash" "$2"
}
js="$(hashed "$client/real-dispatch.js" js)"
wasm="$(hashed "$client/real-dispatch_bg.wasm" wasm)"
css="$(hashed style/main.css css)"
# The phone pages' smaller client, when it was built (the pages load the whole one otherwise).
field=""
if [ -f "$client/field.js" ] && [ -f "$client/field_bg.wasm" ]; then
  field_js="$(hashed "$client/field.js" js field)"
  field_wasm="$(hashed "$client/field_bg.wasm" wasm field)"
  field=", \"field_js\": \"$field_js\", \"field_wasm\": \"$field_wasm\""
fi
# JavaScript a crate ships for wasm-bindgen, imported by the glue relative to itself.
if [ -d "$client/snippets" ]; then cp -R "$client/snippets" "$next/pkg/"; fi
printf '{"js": "%s", "wasm": "%s", "css": "%s"%s}\n' "$js" "$wasm" "$css" "$field" >"$next/assets.json"

# Compress on both cores; a copy that is not smaller than its file is dropped.
find "$next" -type f ! -name assets.json -print0 | xargs -0 -P 2 -n 4 sh -c '
  for f in "$@"; do
    brotli -q 11 -f -o "$f.br" "$f"
    gzip -9 -n -c "$f" >"$f.gz"
    size=$(stat -c %s "$f")
    for copy in "$f.br" "$f.gz"; do
      [ "$(stat -c %s "$copy")" -lt "$size" ] || rm -f "$copy"
    done
  done' sh

rm -rf "$site"
mv "$next" "$site"
for w in "$wasm" ${field_wasm:-}; do
  f="$site$w"
  printf 'site: %s  %s bytes (brotli %s, gzip %s)\n' "$site$w" \
    "$(stat -c %s "$f")" "$(stat -c %s "$f.br" 2>/dev/null || echo -)" "$(stat -c %s "$f.gz" 2>/dev/null || echo -)"
done
