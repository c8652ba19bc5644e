#!/usr/bin/env bash
# The benchmark: pg_mq (trace on and off) against hand-written SQL, PgQ and pgmq on one
# PostgreSQL 15 server it starts itself. Builds pg_mq in release mode and installs it, then
# runs every scenario for every system and writes target/bench/results.md and results.json.
#   bash scripts/bench.sh            full run (under 20 minutes)
#   bash scripts/bench.sh --quick    short run (under 3 minutes once built)
# Extra arguments go to the load generator: --only a,c  --systems pgmq,pg_mq  --out DIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APT_PACKAGES+=(postgresql-15-pgq3)
ensure_tools
cd "$ROOT"

say "building and installing pg_mq (release)"
install_extension

say "building the load generator"
cargo build --profile loadgen -p pg_mq_bench

say "running the benchmark"
target/loadgen/pg_mq_bench --out target/bench "$@"
