#!/usr/bin/env bash
# Runs every check and every test of STACK, against real services it installs and starts.
#   scripts/test.sh                      format, lint, all tests (what CI runs)
#   scripts/test.sh -E 'test(/queue/)'   extra arguments go to cargo nextest
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
phase_started=""
# Prints how long the previous phase took, then the next phase's title.
phase() {
  local now
  now=$(date +%s)
  [ -z "$phase_started" ] || echo "   (took $((now - phase_started))s)"
  phase_started=$now
  echo "== $*"
}

phase "services"
. scripts/services.sh
echo "PostgreSQL: $STACK_TEST_POSTGRES_URL"
echo "Redis:      $STACK_TEST_REDIS_URL"
echo "Cluster:    $STACK_TEST_REDIS_CLUSTER_URL"

phase "cargo fmt --check"
cargo fmt --all -- --check

phase "cargo clippy (all targets, all features, warnings are errors)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

phase "stack-server without default features (a host that picks its own backends)"
cargo check -p stack-server --no-default-features --locked

phase "stack-server with memory and redis only (a host with no SQL database)"
cargo check -p stack-server --no-default-features --features memory,redis --locked

phase "doc tests"
cargo test --workspace --all-features --locked --doc

phase "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-features --locked --no-fail-fast "$@"
else
  echo "(cargo-nextest not found: using cargo test)"
  cargo test --workspace --all-features --locked --no-fail-fast --lib --bins --tests "$@"
fi

phase "embedded host (a crate outside the workspace, by path): SQLite build and run, Redis build and run"
scripts/embedded-host.sh

phase "contract fuzzing (schemathesis against a running stack serve)"
# Uses the stack binary the test build just left in target/debug.
scripts/schemathesis.sh

phase "all checks passed in $(($(date +%s) - started))s"
