#!/usr/bin/env bash
# The SQL queue benchmark (issue 15): STACK's `SqlQueue` on PostgreSQL and on SQLite, and on
# the same PostgreSQL its peers, apalis-postgres 1.0 and River's Rust client (bench/peers/, a
# cargo project outside the workspace), one after the other, three rounds; prints min /
# median / max of each figure and STACK's ratios to each peer (medians), as
# docs/benchmarks.md reports them. The work is the Redis benchmark's (tests/benches/queue.rs):
# 100,000 no-op jobs in batches of 1,000, 10 workers; enqueue only; idle start latency.
#
#   scripts/bench-sql-queue.sh              100,000 jobs, 10 workers, 500 latency samples
#   BENCH_JOBS=20000 BENCH_ROUNDS=1 scripts/bench-sql-queue.sh
#
# Services start first (outside the lock); then the whole run (release builds and bench)
# holds the shared cargo lock, so that no build on the machine competes for the cores. It
# takes the lock itself: do not wrap it in `flock` on the same lock, or say so with
# STACK_CARGO_LOCK_HELD=1. The peers build in bench/peers/target (PEERS_TARGET_DIR).
# BENCH_SYSTEMS picks the systems: River at its defaults (`river`, about 100 jobs/s with 10
# workers: its 100 ms fetch cooldown) is left out of the default set, whose 100,000 jobs it
# would take a quarter of an hour per round to run; `river-fast` is River with its 1 ms
# minimum cooldown. `BENCH_JOBS=5000 BENCH_SYSTEMS=river BENCH_ROUNDS=1` measures it.
set -euo pipefail
cd "$(dirname "$0")/.."
lock=/tmp/stack-cargo.lock
if [ -z "${STACK_CARGO_LOCK_HELD:-}" ]; then
  . scripts/services.sh
  exec env STACK_CARGO_LOCK_HELD=1 flock -o "$lock" "$0" "$@"
fi
if [ -z "${STACK_TEST_POSTGRES_URL:-}" ]; then
  . scripts/services.sh
fi
ROUNDS="${BENCH_ROUNDS:-3}"
SYSTEMS="${BENCH_SYSTEMS:-stack-postgres stack-sqlite apalis river-fast}"

echo "== building the STACK bench (release)" >&2
cargo bench -p stack-tests --bench queue --no-run >&2
bench=$(cargo bench -p stack-tests --bench queue --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "queue" and m.get("executable"):
        print(m["executable"])')
echo "== building the peers (release, bench/peers)" >&2
peers_target="${PEERS_TARGET_DIR:-$PWD/bench/peers/target}"
(cd bench/peers && CARGO_TARGET_DIR="$peers_target" cargo build --release >&2)
peers="$peers_target/release/stack-bench-peers"

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for round in $(seq 1 "$ROUNDS"); do
  for system in $SYSTEMS; do
    echo "== round $round: $system" >&2
    case "$system" in
      stack-*) "$bench" "$system" | tail -n 1 | tee -a "$results" >&2 ;;
      *) "$peers" "$system" | tail -n 1 | tee -a "$results" >&2 ;;
    esac
  done
done

python3 - "$results" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
order = ["stack-postgres", "stack-sqlite", "apalis", "river", "river-fast"]
systems = [s for s in order if any(r["system"] == s for r in runs)]
peers = [s for s in ("apalis", "river", "river-fast") if s in systems]
figures = [("e2e_jobs_s", "end to end, jobs/s", "{:,.0f}", True), ("enqueue_jobs_s", "enqueue only, jobs/s", "{:,.0f}", True),
           ("p50_ms", "idle start latency p50, ms", "{:.2f}", False), ("p99_ms", "idle start latency p99, ms", "{:.2f}", False)]
jobs = runs[0]["jobs"]; conc = runs[0]["concurrency"]
rounds = max(sum(1 for r in runs if r["system"] == s) for s in systems)
print(f"\n{jobs:,} no-op jobs, {conc} workers, {rounds} rounds (min / median / max)\n")
ratios = [f"STACK PostgreSQL / {p}" for p in peers] if "stack-postgres" in systems else []
print("| figure | " + " | ".join(systems + ratios) + " |")
print("|---|" + "---|" * (len(systems) + len(ratios)))
for key, label, fmt, higher in figures:
    cells, med = [], {}
    for s in systems:
        vals = sorted(r[key] for r in runs if r["system"] == s)
        med[s] = statistics.median(vals)
        cells.append(" / ".join(fmt.format(v) for v in (vals[0], med[s], vals[-1])))
    if ratios:
        # Ratios read "how many times better": throughput STACK / peer, latency peer / STACK.
        cells += [f"{(med['stack-postgres'] / med[p]) if higher else (med[p] / med['stack-postgres']):.2f}x" for p in peers]
    print(f"| {label} | " + " | ".join(cells) + " |")
PY
