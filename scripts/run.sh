#!/usr/bin/env bash
# The run command: installs what is missing, builds and installs pg_mq (release), starts a
# local PostgreSQL 15 server with shared_preload_libraries = 'pg_mq' (so the background worker
# runs), creates the extension afresh in database postgres, runs a short demo, starts the web
# console beside it and prints how to connect with psql and how to log in to the console.
#
# Environment: PG_MQ_DEMO_DIR (default /tmp/pg_mq-demo) holds the cluster and its socket;
# PG_MQ_PORT (default 5499) is its port, on localhost and the socket; PG_MQ_CONSOLE_LISTEN
# (default 127.0.0.1:8080) is where the console listens.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEMO_DIR="${PG_MQ_DEMO_DIR:-/tmp/pg_mq-demo}"
PORT="${PG_MQ_PORT:-5499}"
DATA="$DEMO_DIR/data"
DB=postgres
CONSOLE_LISTEN="${PG_MQ_CONSOLE_LISTEN:-127.0.0.1:8080}"

APT_PACKAGES+=(curl)
ensure_tools

say "building and installing pg_mq (release)"
install_extension

if [ -f "$DATA/PG_VERSION" ]; then
    say "restarting the server in $DATA to load the new build"
    as_pg_user "$PG_BIN/pg_ctl" stop -w -m fast -D "$DATA" >/dev/null 2>&1 || true
else
    say "creating a PostgreSQL 15 cluster in $DATA"
    mkdir -p "$DEMO_DIR"
    if is_root; then chown postgres:postgres "$DEMO_DIR"; fi
    as_pg_user "$PG_BIN/initdb" --auth=trust --username=postgres --encoding=UTF8 -D "$DATA" >/dev/null
fi
# The demo's settings live in a file of their own, rewritten on every run.
grep -qs "^include_if_exists = 'pg_mq-demo.conf'" "$DATA/postgresql.conf" ||
    echo "include_if_exists = 'pg_mq-demo.conf'" | as_pg_user tee -a "$DATA/postgresql.conf" >/dev/null
as_pg_user tee "$DATA/pg_mq-demo.conf" >/dev/null <<CONF
# pg_mq demo server (written by scripts/run.sh)
listen_addresses = 'localhost'
port = $PORT
unix_socket_directories = '$DEMO_DIR'
shared_preload_libraries = 'pg_mq'
# quicker than the defaults, so the demo shows the worker at work
pg_mq.recovery_interval = '1s'
pg_mq.metrics_sample_interval = '2s'
CONF
as_pg_user "$PG_BIN/pg_ctl" start -w -D "$DATA" -l "$DEMO_DIR/postgres.log" >/dev/null

PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h "$DEMO_DIR" -p "$PORT" -U postgres)
say "creating the extension afresh in database $DB"
"${PSQL[@]}" -d "$DB" -c "DROP EXTENSION IF EXISTS pg_mq" -c "CREATE EXTENSION pg_mq"

say "demo"
"${PSQL[@]}" -d "$DB" -f "$ROOT/scripts/demo.sql"

say "building and starting the console on $CONSOLE_LISTEN"
cargo build --profile loadgen -p mq_console
if [ -f "$DEMO_DIR/console.pid" ]; then
    kill "$(cat "$DEMO_DIR/console.pid")" 2>/dev/null || true
    rm -f "$DEMO_DIR/console.pid"
fi
TOKEN_FILE="$DEMO_DIR/console.token"
[ -s "$TOKEN_FILE" ] || od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$TOKEN_FILE"
chmod 600 "$TOKEN_FILE"
MQ_CONSOLE_TOKEN="$(cat "$TOKEN_FILE")" \
MQ_CONSOLE_DATABASE_URL="host=$DEMO_DIR port=$PORT user=postgres dbname=$DB" \
MQ_CONSOLE_LISTEN="$CONSOLE_LISTEN" \
    nohup "$ROOT/target/loadgen/mq-console" >"$DEMO_DIR/console.log" 2>&1 </dev/null &
echo $! >"$DEMO_DIR/console.pid"
for _ in $(seq 1 50); do
    curl -fsS "http://$CONSOLE_LISTEN/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
if ! curl -fsS "http://$CONSOLE_LISTEN/healthz" >/dev/null; then
    cat "$DEMO_DIR/console.log" >&2
    echo "the console did not start (log above: $DEMO_DIR/console.log)" >&2
    exit 1
fi

cat <<DONE

pg_mq is running: PostgreSQL 15 with shared_preload_libraries = 'pg_mq' (the background
worker runs in database $DB).
Connect with psql:

    psql -h $DEMO_DIR -p $PORT -U postgres $DB
    (or over TCP: psql -h localhost -p $PORT -U postgres $DB)

The web console: http://$CONSOLE_LISTEN/
    log in with the token in $TOKEN_FILE:
    $(cat "$TOKEN_FILE")
    (scripts: curl -H "Authorization: Bearer \$(cat $TOKEN_FILE)" http://$CONSOLE_LISTEN/api/topics)

Server log: $DEMO_DIR/postgres.log; console log: $DEMO_DIR/console.log
Stop them:  kill \$(cat $DEMO_DIR/console.pid); $( is_root && printf 'runuser -u postgres -- ' )$PG_BIN/pg_ctl stop -D $DATA
DONE
