#!/usr/bin/env bash
# The test command: installs what is missing, then runs every test tier.
#   1. unit tests of the pure core (crates/mq_core: no PostgreSQL needed)
#   2. #[pg_test] tests inside a database (cargo pgrx test)
#   3. golden output (pg_regress) and isolation specs against a live server (scripts/golden.sh)
#   4. multi-session tests against live servers (tests/live), the client examples (Python,
#      Node, PgBouncer) and the web console in headless Chromium (tests/browser)
# Works as root (CI) or as a developer with sudo.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_tools
cd "$ROOT"

say "tier 1: unit tests of the pure core"
cargo test -p mq_core

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

say "installing the extension (debug build) for the live tiers"
install_extension --debug
install_release_scripts

say "tier 3: golden output and isolation specs"
bash "$ROOT/scripts/golden.sh"

say "tier 4: multi-session tests against live servers, the client examples and the console in a browser"
ensure_client_tools
ensure_browser_tools
cargo test -p mq_console
cargo build -p mq_console
export MQ_CONSOLE_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/mq-console"
cargo test -p pg_mq_live_tests

say "all test tiers passed"
