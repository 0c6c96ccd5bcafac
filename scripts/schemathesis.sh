#!/usr/bin/env bash
# Contract fuzzing: schemathesis 4 against every OpenAPI document that /docs lists (each API
# version's, the health probes'), served by a real `stack serve` on a fresh SQLite file.
#
#   scripts/schemathesis.sh                 all phases, all checks, seed 20261203
#   SCHEMATHESIS_EXAMPLES=200 scripts/schemathesis.sh    more cases per operation
#   STACK_BIN=target/release/stack scripts/schemathesis.sh
#
# Uses the `stack` binary the test build left in target/debug (scripts/test.sh runs it after
# the tests, so nothing is compiled twice); builds it only when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

version="4.32.5"
venv="$PWD/target/schemathesis-venv"
seed="${SCHEMATHESIS_SEED:-20261203}"
examples="${SCHEMATHESIS_EXAMPLES:-40}"
bin="${STACK_BIN:-target/debug/stack}"
config="$PWD/scripts/schemathesis.toml"
scripts_dir="$PWD/scripts"

if ! "$venv/bin/st" --version 2>/dev/null | grep -qF "$version"; then
  echo "installing schemathesis $version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$version"
fi
if [ ! -x "$bin" ]; then
  cargo build --locked -p stack-server --bin stack
fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A server of its own: a fresh database, the shipped configuration, every other STACK*
# variable of the caller left out.
env -u RUST_LOG $(env | grep -o '^STACK[A-Z0-9_]*' | sed 's/^/-u /') \
  STACK__DATABASE__URL="sqlite://$work/stack.db?mode=rwc" \
  "$bin" serve --config configs/config.yaml --port "$port" --log-format json \
  >"$work/server.log" 2>&1 &
server=$!

base="http://127.0.0.1:$port"
deadline=$((SECONDS + 60))
until curl -fsS "$base/health/live" >/dev/null 2>&1; do
  if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$server" 2>/dev/null; then
    echo "stack serve did not start; its log:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep 0.2
done

# Every document the docs page lists, so a new version is fuzzed as soon as it is listed.
mapfile -t documents < <(curl -fsS "$base/docs" | python3 -c '
import json, re, sys
found = re.search(r"const documents = (\[.*?\])\.map", sys.stdin.read())
for doc in json.loads(found.group(1).replace("<\\/", "</")) if found else []:
    print(doc["url"])
')
if [ "${#documents[@]}" -eq 0 ]; then
  echo "/docs lists no document" >&2
  exit 1
fi

failed=0
for document in "${documents[@]}"; do
  echo "== schemathesis: $document (seed $seed, $examples examples per operation)"
  # The document's paths are relative to where it is served: /api/v1/openapi.json -> /api/v1.
  # Run from the temp dir: hypothesis keeps its example database in the working directory.
  # One worker: hypothesis parses lambda sources with `ast`, and CPython 3.11's AST
  # constructor is not safe across threads ("AST constructor recursion depth mismatch").
  if ! (cd "$work" && SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$scripts_dir" \
    "$venv/bin/st" --config-file "$config" run "$base$document" \
    --url "$base${document%/openapi.json}" \
    --phases examples,coverage,fuzzing,stateful \
    --checks all \
    --seed "$seed" \
    --max-examples "$examples" \
    --workers 1 \
    --request-timeout 10 \
    --no-color); then
    failed=1
  fi
done

if grep -q '"level":"ERROR"' "$work/server.log"; then
  echo "the server logged errors:" >&2
  grep '"level":"ERROR"' "$work/server.log" >&2
  failed=1
fi
exit "$failed"
