#!/usr/bin/env bash
# The browser tier: the web console (console/, mq-console) against throw-away servers, driven
# by headless Chromium (tests/browser), then checked in the database (tests/live/tests/console.rs).
# Installs what is missing (Debian's chromium, playwright-core with npm ci), builds mq-console
# and runs the suite; arguments after the command filter the tests by name.
# pg_mq must already be installed into PostgreSQL 15 (scripts/test.sh does that first).
# Screenshots: target/browser-artifacts/.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_browser_tools
cd "$ROOT"

say "building mq-console"
cargo build -p mq_console
export MQ_CONSOLE_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/mq-console"

say "browser tier: mq-console in headless Chromium"
cargo test -p pg_mq_live_tests --test console -- "$@"
