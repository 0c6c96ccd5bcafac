#!/usr/bin/env bash
# Runs every check and every test of STACK, against real services it installs and starts.
#   scripts/test.sh              format, lint, all tests (what CI runs)
#   scripts/test.sh -E 'test(/queue/)'   extra arguments go to cargo nextest
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
. scripts/services.sh
echo "PostgreSQL: $STACK_TEST_POSTGRES_URL"
echo "Redis:      $STACK_TEST_REDIS_URL"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (all targets, all features, warnings are errors)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

echo "== doc tests"
cargo test --workspace --all-features --locked --doc

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-features --locked --no-fail-fast "$@"
else
  echo "(cargo-nextest not found: using cargo test)"
  cargo test --workspace --all-features --locked --no-fail-fast --lib --bins --tests "$@"
fi

echo "== all checks passed in $(( $(date +%s) - started ))s"
