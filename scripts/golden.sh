#!/usr/bin/env bash
# The golden-output tiers, against a throw-away PostgreSQL 15 server with pg_mq preloaded (the
# extension must be installed first; scripts/test.sh does it):
#   - pg_regress: tests/regress/sql/*.sql against tests/regress/expected/*.out
#   - isolation specs: tests/isolation/specs/*.spec against tests/isolation/expected/*.out
#     (PostgreSQL's isolation tester: concurrent sessions in a fixed interleaving)
#   bash scripts/golden.sh            run both
#   bash scripts/golden.sh --accept   run both and copy the results over the expected files
#                                     (review the diff before committing it)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ACCEPT=false
[ "${1:-}" = "--accept" ] && ACCEPT=true

PGXS_TEST="$("$PG_CONFIG" --pkglibdir)/pgxs/src/test"
WORK="$(mktemp -d /tmp/pg_mq-golden.XXXXXX)"
PORT=5497
DATA="$WORK/data"
if is_root; then chown postgres:postgres "$WORK"; fi
stop_server() {
    as_pg_user "$PG_BIN/pg_ctl" stop -w -m immediate -D "$DATA" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap stop_server EXIT

as_pg_user "$PG_BIN/initdb" --auth=trust --username=postgres --encoding=UTF8 --no-sync \
    -D "$DATA" >/dev/null
as_pg_user tee -a "$DATA/postgresql.conf" >/dev/null <<CONF
listen_addresses = ''
port = $PORT
unix_socket_directories = '$WORK'
shared_preload_libraries = 'pg_mq'
fsync = off
lc_messages = 'C'
timezone = 'UTC'
# The databases' workers run their jobs once when they find the extension, then not again
# while the tests run: nothing changes the tests' rows behind their back.
pg_mq.recovery_interval = '1h'
pg_mq.schedule_interval = '1h'
pg_mq.fold_interval = '1h'
pg_mq.retention_interval = '1h'
pg_mq.metrics_sample_interval = '1h'
CONF
as_pg_user "$PG_BIN/pg_ctl" start -w -D "$DATA" -l "$WORK/postgres.log" >/dev/null

PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres)
for db in golden_regress golden_isolation; do
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE $db"
    "${PSQL[@]}" -d "$db" -c "SET client_min_messages = warning" -c "CREATE EXTENSION pg_mq"
done
# Wait until each database's worker has run its first jobs.
for db in golden_regress golden_isolation; do
    for _ in $(seq 300); do
        working=$("${PSQL[@]}" -d "$db" -At -c "SELECT count(*) FROM pg_stat_activity
            WHERE backend_type = 'pg_mq worker' AND datname = current_database()
              AND query LIKE '%recovery every%'")
        [ "$working" = 1 ] && break
        sleep 0.1
    done
    [ "$working" = 1 ] || { echo "no pg_mq worker in $db" >&2; exit 1; }
done

# pg_regress and the isolation tester write their results as the user running them.
run_tier() {
    local tool="$1" dir="$2" db="$3" kind="$4" ext="$5"
    local out="$WORK/$kind"
    mkdir -p "$out"
    cp -r "$ROOT/tests/$kind/." "$out/"
    if is_root; then chown -R postgres:postgres "$out"; fi
    local tests=()
    for file in "$out/$dir"/*."$ext"; do tests+=("$(basename "$file" ".$ext")"); done
    local status=0
    (cd "$out" && as_pg_user "$tool" --use-existing --host="$WORK" --port="$PORT" \
        --user=postgres --dbname="$db" --bindir="$PG_BIN" --inputdir=. --outputdir=. \
        "${tests[@]}") || status=$?
    if $ACCEPT; then
        cp "$out"/results/*.out "$ROOT/tests/$kind/expected/"
        say "copied $kind results into tests/$kind/expected/ (review: git diff tests/$kind)"
    elif [ "$status" -ne 0 ]; then
        [ -f "$out/regression.diffs" ] && cat "$out/regression.diffs"
        echo "golden tier $kind failed" >&2
        return "$status"
    fi
}

say "pg_regress: golden output of errors, Prometheus text, dashboard and listings"
run_tier "$PGXS_TEST/regress/pg_regress" sql golden_regress regress sql
say "isolation specs: leases, purge, claims and the outbox under concurrency"
PGISOLATIONTIMEOUT=120 run_tier "$PGXS_TEST/isolation/pg_isolation_regress" specs \
    golden_isolation isolation spec
