#!/usr/bin/env bash
# Load benchmark of the HTTP API (not a test; scripts/test.sh never runs it). On loopback,
# against release builds, three runs of each scenario, one after the other:
#   hello     GET / of a poem hello-world (examples/hello_world.rs): the baseline
#   user      GET /api/v2/users/{id}, a user the caching Store holds (cache.store_ttl)
#   deposits  GET /api/v2/deposits?user_id=...&limit=20, the first page of 200 deposits
#   post      POST /api/v2/deposits, a new deposit and a new Idempotency-Key per request
# and prints req/s and p99 per run, with each median's ratio to hello-world's. The figures
# belong in docs/benchmarks.md.
#
#   scripts/bench-api.sh                       10 s per run, 32 connections
#   BENCH_SECONDS=30 BENCH_CONNECTIONS=64 scripts/bench-api.sh
#
# The whole run (install, build, bench) holds the shared cargo lock, so that no build on the
# machine competes with the servers and oha for the cores. It takes the lock itself: do not
# wrap it in `flock` on the same lock (the inner `flock` would wait for the outer one
# forever), or say so with STACK_CARGO_LOCK_HELD=1.
#
# Installs oha (crates.io) under target/bench-tools. oha sends one request over and over, so
# the POST scenario, which needs a fresh key and transaction per request, is driven by a
# small Python client on the same connections count (its figure is a floor: the client may
# be the bottleneck; its own hello-world run is printed beside it for that reason).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${BENCH_SECONDS:-10}"
connections="${BENCH_CONNECTIONS:-32}"
runs=3
tools="$PWD/target/bench-tools"
oha="$tools/bin/oha"
lock=/tmp/stack-cargo.lock
if [ -z "${STACK_CARGO_LOCK_HELD:-}" ]; then
  exec env STACK_CARGO_LOCK_HELD=1 flock -o "$lock" "$0" "$@"
fi

if [ ! -x "$oha" ]; then
  cargo install --locked --root "$tools" oha
fi
cargo build --release --locked -p stack-server --bin stack \
  -p stack-examples --example hello_world

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

wait_for() {
  local url=$1 deadline=$((SECONDS + 60))
  until curl -fsS "$url" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "nothing answers $url" >&2
      exit 1
    fi
    sleep 0.2
  done
}

hello_port=$(free_port)
target/release/examples/hello_world "127.0.0.1:$hello_port" >"$work/hello.log" 2>&1 &
pids+=($!)
stack_port=$(free_port)
env -u RUST_LOG \
  STACK__DATABASE__URL="sqlite://$work/bench.db?mode=rwc" \
  STACK__CACHE__STORE_TTL=5m \
  STACK__LOG__LEVEL=warn \
  target/release/stack serve --config configs/config.yaml --port "$stack_port" \
  >"$work/stack.log" 2>&1 &
pids+=($!)
hello="http://127.0.0.1:$hello_port"
stack="http://127.0.0.1:$stack_port"
wait_for "$hello/"
wait_for "$stack/health/live"

# Seed: one user with 200 deposits. A server without the rail API gets the baseline and
# /health/live only (to try the script itself).
post() {
  curl -fsS -X POST -H 'Content-Type: application/json' -d "$2" "$stack$1"
}
rail=yes
if ! curl -fsS "$stack/api/v2/openapi.json" >/dev/null 2>&1; then
  rail=no
  echo "(no rail API on this server: only hello-world and /health/live are measured)"
fi
user=""
if [ "$rail" = yes ]; then
  user=$(post /api/v2/users '{"email":"bench@example.com","full_name":"Bench User"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
  deposit() {
    printf '{"user_id":"%s","chain":"ethereum","tx_hash":"0x%064x","output_index":0,"amount":{"amount":"0.5","asset":"ETH"}}' \
      "$user" "$1"
  }
  for i in $(seq 1 200); do
    post /api/v2/deposits "$(deposit "$i")" >/dev/null
  done
fi

# One oha run: "req/s p99_ms".
oha_run() {
  "$oha" -z "${seconds}s" -c "$connections" --no-tui --output-format json "$1" |
    python3 -c '
import json, sys
r = json.load(sys.stdin)
print("%.0f %.2f" % (r["summary"]["requestsPerSec"], r["latencyPercentiles"]["p99"] * 1000))'
}

# One run of fresh POSTs: "req/s p99_ms". The body of request n carries transaction n.
post_run() {
  python3 - "$1" "$2" "$seconds" "$connections" "$user" <<'PY'
import http.client, json, sys, threading, time, uuid
url, kind, seconds, connections, user = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
host, port = url.split("//")[1].split(":")
latencies, lock, end = [], threading.Lock(), time.monotonic() + seconds
def worker():
    conn = http.client.HTTPConnection(host, int(port))
    mine = []
    while time.monotonic() < end:
        n = uuid.uuid4().int >> 1
        if kind == "post":
            body = json.dumps({"user_id": user, "chain": "ethereum", "tx_hash": "0x%064x" % n,
                               "output_index": 0, "amount": {"amount": "0.5", "asset": "ETH"}})
            headers = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
            start = time.monotonic()
            conn.request("POST", "/api/v2/deposits", body, headers)
        else:
            start = time.monotonic()
            conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        if response.status >= 300:
            raise SystemExit("status %d" % response.status)
        mine.append(time.monotonic() - start)
    with lock:
        latencies.extend(mine)
threads = [threading.Thread(target=worker) for _ in range(connections)]
for t in threads: t.start()
for t in threads: t.join()
latencies.sort()
p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else 0
print("%.0f %.2f" % (len(latencies) / seconds, p99 * 1000))
PY
}

declare -A results
scenario() {
  local name=$1
  shift
  for run in $(seq 1 "$runs"); do
    results["$name,$run"]=$("$@")
    echo "  $name run $run: ${results[$name,$run]}"
  done
}
echo "== $runs runs of ${seconds}s, $connections connections"
scenario hello oha_run "$hello/"
if [ "$rail" = yes ]; then
  scenario user oha_run "$stack/api/v2/users/$user"
  scenario deposits oha_run "$stack/api/v2/deposits?user_id=$user&limit=20"
  scenario hello_py post_run "$hello" get
  scenario post post_run "$stack" post
else
  scenario live oha_run "$stack/health/live"
fi

# The table: median req/s and p99 of the three runs, and the ratio to the baseline.
{
  for key in "${!results[@]}"; do echo "$key ${results[$key]}"; done
} | python3 -c '
import statistics, sys
rows = {}
for line in sys.stdin:
    key, rps, p99 = line.split()
    name = key.split(",")[0]
    rows.setdefault(name, []).append((float(rps), float(p99)))
labels = {
    "hello": ("GET / (poem hello-world, oha)", "hello"),
    "live": ("GET /health/live (oha)", "hello"),
    "user": ("GET /api/v2/users/{id} (cached)", "hello"),
    "deposits": ("GET /api/v2/deposits, first page of 20", "hello"),
    "hello_py": ("GET / (poem hello-world, Python client)", "hello_py"),
    "post": ("POST /api/v2/deposits + Idempotency-Key (Python client)", "hello_py"),
}
print("| scenario | req/s (median of 3) | runs | p99 ms (median) | req/s vs its hello-world |")
print("|---|---|---|---|---|")
for name, (label, base) in labels.items():
    if name not in rows:
        continue
    runs = rows[name]
    rps = statistics.median(r for r, _ in runs)
    p99 = statistics.median(p for _, p in runs)
    ratio = rps / statistics.median(r for r, _ in rows[base])
    each = ", ".join("%.0f" % r for r, _ in runs)
    print("| %s | %.0f | %s | %.2f | %.2f |" % (label, rps, each, p99, ratio))
'
