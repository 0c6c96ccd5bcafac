#!/usr/bin/env bash
# The queue benchmark against BullMQ: STACK on Redis, STACK on the Redis Cluster and BullMQ
# on the same Redis, one after the other, three rounds; prints min / median / max of each
# figure and STACK's ratios to BullMQ (medians), as docs/benchmarks.md reports them.
#   scripts/bench-queue.sh            100,000 jobs, 10 workers, 500 latency samples
#   BENCH_JOBS=20000 scripts/bench-queue.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh
ROUNDS="${BENCH_ROUNDS:-3}"

echo "== building the STACK bench (release)" >&2
cargo bench -p stack-tests --bench queue --no-run >&2
bench=$(cargo bench -p stack-tests --bench queue --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "queue" and m.get("executable"):
        print(m["executable"])')
echo "== installing BullMQ (npm ci)" >&2
(cd bench/bullmq && npm ci --no-audit --no-fund >&2)

results=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
  for system in stack-redis stack-cluster bullmq; do
    echo "== round $round: $system" >&2
    if [ "$system" = bullmq ]; then
      REDIS_URL="$STACK_TEST_REDIS_URL" node bench/bullmq/bench.mjs | tail -n 1 | tee -a "$results" >&2
    else
      "$bench" "$system" | tail -n 1 | tee -a "$results" >&2
    fi
  done
done

python3 - "$results" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
systems = ["stack-redis", "stack-cluster", "bullmq"]
figures = [("e2e_jobs_s", "end to end, jobs/s", "{:,.0f}"), ("enqueue_jobs_s", "enqueue only, jobs/s", "{:,.0f}"),
           ("p50_ms", "idle start latency p50, ms", "{:.2f}"), ("p99_ms", "idle start latency p99, ms", "{:.2f}")]
jobs = runs[0]["jobs"]; conc = runs[0]["concurrency"]
print(f"\n{jobs:,} no-op jobs, {conc} workers, {len(runs)//len(systems)} rounds (min / median / max)\n")
print("| figure | " + " | ".join(systems) + " | STACK Redis / BullMQ | STACK Cluster / BullMQ |")
print("|---|" + "---|" * (len(systems) + 2))
for key, label, fmt in figures:
    cells, med = [], {}
    for s in systems:
        vals = sorted(r[key] for r in runs if r["system"] == s)
        med[s] = statistics.median(vals)
        cells.append(" / ".join(fmt.format(v) for v in (vals[0], med[s], vals[-1])))
    ratio = lambda s: f"{med[s] / med['bullmq']:.2f}"
    print(f"| {label} | " + " | ".join(cells) + f" | {ratio('stack-redis')} | {ratio('stack-cluster')} |")
PY
