#!/usr/bin/env bash
# Builds and runs the embedded host (examples/embedded-host): a crate outside the workspace,
# built against STACK's crates by path, that serves STACK under /stack beside its own routes.
# It runs twice, the backends switched by Cargo feature and configuration only:
#   SQLite:  --no-default-features --features sqlite, config/sqlite.yaml (a temporary file
#            database; the cache and the queue in memory)
#   Redis:   --features redis, config/redis.yaml (the cache and the queue on
#            $STACK_TEST_REDIS_URL, under key prefixes unique to this run)
# Each run is the host's --self-check: it serves on a free port, checks itself as an HTTP
# client, stops from code and exits 0 with a summary line, or non-zero naming what failed.
# Needs STACK_TEST_REDIS_URL (scripts/services.sh sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${STACK_TEST_REDIS_URL:?run scripts/services.sh first (it sets STACK_TEST_REDIS_URL)}"

crate=examples/embedded-host
manifest=(--manifest-path "$crate/Cargo.toml")
# The workspace's target directory: dependencies the workspace already compiled with the
# same features are reused.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# How long one self-check may take, start to exit (it polls each check for at most 20 s).
RUN_TIMEOUT="${STACK_EMBEDDED_TIMEOUT:-120}"

# Dependency versions: the workspace's. Its lock is copied in (the crate's own lock is not
# committed), cargo drops from it what the host does not use, and any package the host
# resolved at a version the workspace does not lock fails the check below.
cp Cargo.lock "$crate/Cargo.lock"
versions() { awk '/^name = /{name=$3} /^version = /{print name, $3}' "$1" | sort -u; }
check_lock() {
  local extra
  extra=$(comm -23 <(versions "$crate/Cargo.lock") <(versions Cargo.lock) | grep -v '^"embedded-host" ' || true)
  if [ -n "$extra" ]; then
    echo "the embedded host resolved versions that the workspace's Cargo.lock does not hold:" >&2
    echo "$extra" >&2
    exit 1
  fi
}

cargo fmt "${manifest[@]}" -- --check

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run_id="embedded-host-$$-$(date +%s)"

# Runs the binary just built with the self-check on configuration $1; extra variables after.
self_check() {
  local config=$1
  shift
  local status
  set +e
  env "$@" STACK__DATABASE__URL="sqlite://$tmp/$(basename "$config" .yaml).db?mode=rwc" \
    timeout --kill-after=5 "$RUN_TIMEOUT" "$CARGO_TARGET_DIR/debug/embedded-host" \
    --config "$crate/config/$config" --self-check | tee "$tmp/out"
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" -ne 0 ]; then
    [ "$status" -ne 124 ] || echo "the embedded host did not exit within ${RUN_TIMEOUT}s" >&2
    echo "the embedded host's self-check failed ($config, exit $status)" >&2
    exit 1
  fi
}

# Requires the summary line to name the backends the configuration asked for.
expect_backends() {
  grep -q "self-check passed: store=sqlite cache=$1 queue=$2;" "$tmp/out" || {
    echo "expected cache=$1 queue=$2 in the summary line" >&2
    exit 1
  }
}

echo "-- SQLite build (--no-default-features --features sqlite)"
rm -f "$CARGO_TARGET_DIR/debug/embedded-host" # a stale binary must never pass
cargo build "${manifest[@]}" --no-default-features --features sqlite
check_lock
self_check sqlite.yaml
expect_backends memory memory
# The backend check at load: this build has no Redis, and says so before connecting.
if timeout 60 "$CARGO_TARGET_DIR/debug/embedded-host" --config "$crate/config/redis.yaml" \
  --self-check >"$tmp/refused" 2>&1 ||
  ! grep -q "needs stack-backends built with feature redis" "$tmp/refused"; then
  echo "the SQLite build should refuse config/redis.yaml naming the missing feature; it said:" >&2
  cat "$tmp/refused" >&2
  exit 1
fi
echo "ok - the SQLite build refuses config/redis.yaml: $(grep -m1 'feature redis' "$tmp/refused")"

echo "-- Redis build (--features redis): clippy, then build"
cargo clippy "${manifest[@]}" --all-targets --features redis -- -D warnings
rm -f "$CARGO_TARGET_DIR/debug/embedded-host"
cargo build "${manifest[@]}" --features redis
check_lock
self_check redis.yaml STACK__REDIS__URL="$STACK_TEST_REDIS_URL" \
  STACK__QUEUE__KEY_PREFIX="$run_id:" STACK__CACHE__KEY_PREFIX="$run_id:cache:"
expect_backends redis redis
# The run's own queue, not only a Redis one: the summary names its namespace (key prefix).
grep -q "queue namespace $run_id:" "$tmp/out" || {
  echo "expected the queue namespace under $run_id: in the summary line" >&2
  exit 1
}
