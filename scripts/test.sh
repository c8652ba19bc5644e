#!/usr/bin/env bash
# The test command: installs what is missing, then runs every test tier.
#   1. plain Rust unit tests of the pure modules (backoff, validation, errors)
#   2. #[pg_test] tests inside a database (cargo pgrx test)
#   3. multi-session tests against live servers (tests/live)
# Works as root (CI) or as a developer with sudo.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_tools
cd "$ROOT"

say "tier 1: unit tests"
cargo test --lib -- --skip pg_tests::

say "tier 2: #[pg_test] tests in PostgreSQL 15"
pgrx_dir="$(mktemp -d /tmp/pg_mq-pgrx-test.XXXXXX)"
trap 'rm -rf "$pgrx_dir"' EXIT
if is_root; then
    chown postgres:postgres "$pgrx_dir"
    CARGO_PGRX_TEST_RUNAS=postgres CARGO_PGRX_TEST_PGDATA="$pgrx_dir/data" \
        cargo pgrx test pg15 pg_tests
else
    CARGO_PGRX_TEST_PGDATA="$pgrx_dir/data" cargo pgrx test pg15 pg_tests
fi

say "tier 3: multi-session tests against live servers"
install_extension --debug
install_release_scripts
cargo test -p pg_mq_live_tests

say "all test tiers passed"
