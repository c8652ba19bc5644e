#!/usr/bin/env bash
# Response times of mq-console with a large queue: seeds (once) 1,000,000 messages over 1,000
# topics into a database that has pg_mq — completed, pending, scheduled, dead-lettered —,
# starts mq-console (release build without fat LTO) as an admin role, requests every page and
# API endpoint and prints p50 / p95 / max per page. Rerunnable: the seed is kept and reused.
#
#   CONSOLE_BENCH_DATABASE_URL=postgresql://postgres@localhost:5488/postgres bash scripts/console-bench.sh
#
# The URL must be a superuser's (it seeds and creates the role console_bench_admin).
# Options: --requests N (per page, default 20), --messages N (default 1000000),
# --topics N (default 1000), --port N (default 18087).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

URL="${CONSOLE_BENCH_DATABASE_URL:?set CONSOLE_BENCH_DATABASE_URL to a superuser connection URL of a database with pg_mq}"
REQUESTS=20
MESSAGES=1000000
TOPICS=1000
PORT=18087
while [ $# -gt 0 ]; do
    case "$1" in
        --requests) REQUESTS="$2"; shift 2 ;;
        --messages) MESSAGES="$2"; shift 2 ;;
        --topics) TOPICS="$2"; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
PER_TOPIC=$((MESSAGES / TOPICS))
DEAD=10                        # per topic: dead-lettered
SCHEDULED=50                   # per topic: due in an hour
DONE=$((PER_TOPIC * 7 / 10))   # per topic: completed
READY=$((PER_TOPIC - DEAD - SCHEDULED))
CHUNK=50                       # topics per statement

psql_() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$URL" "$@"; }
topic_name="format('bench.t%s', lpad(t::text, 4, '0'))"

seeded="$(psql_ -c "SELECT count(*) FROM mq.messages WHERE topic LIKE 'bench.t%'")"
if [ "$seeded" -lt "$MESSAGES" ]; then
    say "seeding $MESSAGES messages over $TOPICS topics (once; a few minutes)"
    psql_ -c "DELETE FROM mq.messages WHERE topic LIKE 'bench.t%'" \
          -c "DELETE FROM mq.dead_letters WHERE topic LIKE 'bench.t%'" \
          -c "DELETE FROM mq.traces WHERE topic LIKE 'bench.t%'"
    for ((start = 1; start <= TOPICS; start += CHUNK)); do
        end=$((start + CHUNK - 1)); [ "$end" -gt "$TOPICS" ] && end=$TOPICS
        psql_ <<SQL >/dev/null
SELECT count(*) FROM generate_series($start, $end) t,
  LATERAL mq_publish_batch($topic_name,
    ARRAY(SELECT jsonb_build_object('n', g, 'customer', 'c' || (g % 97), 'note', repeat('x', 40))
          FROM generate_series(1, $READY) g),
    headers => '{"source": "bench"}');
SELECT count(*) FROM generate_series($start, $end) t,
  LATERAL mq_publish_batch($topic_name,
    ARRAY(SELECT jsonb_build_object('n', g) FROM generate_series(1, $SCHEDULED) g), delay => '1 hour');
SELECT count(*) FROM generate_series($start, $end) t,
  LATERAL mq_publish_batch($topic_name,
    ARRAY(SELECT jsonb_build_object('n', g, 'poison', true) FROM generate_series(1, $DEAD) g),
    priority => 10, max_retries => 0);
-- The poison messages come first (priority 10): fail them into the dead letters.
SELECT count(mq_fail(p.id, 'bench: poison message', p.lease))
FROM generate_series($start, $end) t, LATERAL mq_poll($topic_name, $DEAD) p;
-- One mq_complete_batch per topic: its time grows with the square of the batch (700 ids
-- 0.15 s, 3,500 ids 3.4 s here), so one batch for the whole chunk would take minutes.
SELECT sum(c.n) FROM generate_series($start, $end) t,
  LATERAL (WITH p AS (SELECT p.id, p.lease FROM mq_poll($topic_name, $DONE) p)
           SELECT count(*) AS n FROM mq_complete_batch((SELECT array_agg(id) FROM p),
                                                       (SELECT array_agg(lease) FROM p))) c;
SQL
        printf '  topics %d-%d\n' "$start" "$end"
    done
    psql_ -c "VACUUM ANALYZE mq.messages" -c "VACUUM ANALYZE mq.traces" -c "VACUUM ANALYZE mq.dead_letters" \
          -c "SELECT mq_metrics_sample()" >/dev/null
fi
psql_ -c "SELECT status, count(*) FROM mq.messages WHERE topic LIKE 'bench.t%' GROUP BY 1 ORDER BY 1" |
    sed 's/^/  messages: /'
psql_ -c "SELECT count(*) FROM mq.dead_letters" | sed 's/^/  dead letters: /'
psql_ -c "SELECT count(*) FROM mq.traces" | sed 's/^/  trace rows: /'

ROLE=console_bench_admin
psql_ -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN CREATE ROLE $ROLE LOGIN; END IF; END \$\$" \
      -c "SELECT mq_grant('admin', '$ROLE')" >/dev/null 2>&1

say "building mq-console (profile loadgen: optimised, no fat LTO)"
cd "$ROOT"
cargo build -q -p mq_console --profile loadgen
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/loadgen/mq-console"

# The console connects like the caller, as the bench role (the URL's user swapped).
CONSOLE_URL="$(sed -E "s#^(postgres(ql)?://)([^@/]*@)?#\1$ROLE@#" <<<"$URL")"
TOKEN="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
LOG="$(mktemp /tmp/console-bench.XXXXXX.log)"
MQ_CONSOLE_TOKEN="$TOKEN" "$BIN" --database-url "$CONSOLE_URL" --listen "127.0.0.1:$PORT" 2>"$LOG" &
CONSOLE_PID=$!
trap 'kill "$CONSOLE_PID" 2>/dev/null; wait "$CONSOLE_PID" 2>/dev/null; rm -f "$LOG"' EXIT
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
    curl -sf "$BASE/healthz" >/dev/null 2>&1 && break
    kill -0 "$CONSOLE_PID" 2>/dev/null || { cat "$LOG"; exit 1; }
    sleep 0.1
done
curl -sf "$BASE/healthz" >/dev/null || { echo "mq-console did not come up:"; cat "$LOG"; exit 1; }
head -1 "$LOG" | sed 's/^/  /'

MID="$(printf 'bench.t%04d' $((TOPICS / 2)))"
# The first topic's messages are the oldest: newest-first over the whole table reaches them last.
FIRST="$(printf 'bench.t%04d' 1)"
MESSAGE="$(psql_ -c "SELECT max(id) FROM mq.messages WHERE topic = '$MID' AND status = 'COMPLETED'")"
DEAD_MESSAGE="$(psql_ -c "SELECT original_id FROM mq.dead_letters WHERE topic = '$MID' ORDER BY id LIMIT 1")"
TRACE="$(psql_ -c "SELECT trace_id FROM mq.messages WHERE id = $MESSAGE")"
PAGES=(
    "/"
    "/?q=t05"
    "/?page=3"
    "/api/topics"
    "/api/topics?page=2"
    "/topics/$MID"
    "/topics/$MID?status=PENDING"
    "/topics/$MID?status=FAILED"
    "/topics/$MID?trace_id=$TRACE"
    "/topics/$MID?id=$MESSAGE"
    "/topics/$MID?page=10"
    "/api/topics/$MID"
    "/topics/$FIRST"
    "/topics/$FIRST?status=SCHEDULED"
    "/topics/$FIRST?header=source=bench"
    "/topics/$FIRST?ordering_key=none"
    "/messages/$MESSAGE"
    "/messages/$DEAD_MESSAGE"
    "/api/messages/$MESSAGE"
    "/dead-letters"
    "/dead-letters?topic=$MID"
    "/dead-letters?replayed=any&page_size=500"
    "/api/dead-letters"
    "/consumers"
    "/api/consumers"
    "/health"
    "/api/health"
    "/api/groups"
    "/api/charts?window=1h"
    "/api/charts?window=1d"
    "/api/charts?window=1w"
    "/api/me"
    "/healthz"
)

say "$REQUESTS requests per page, one at a time, after a first one (timed apart) and a warm-up"
printf '%-48s %6s %9s %9s %9s %9s\n' page status "first ms" "p50 ms" "p95 ms" "max ms"
slow=0
for page in "${PAGES[@]}"; do
    # The first request pays for what the console caches (the charts, for a few seconds).
    first="$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" "$BASE$page" |
        awk '{ printf "%.1f", $1 * 1000 }')"
    curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE$page"
    times=()
    status=""
    for _ in $(seq 1 "$REQUESTS"); do
        read -r code t < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' \
            -H "Authorization: Bearer $TOKEN" "$BASE$page")
        status="$code"
        times+=("$t")
    done
    read -r p50 p95 max < <(printf '%s\n' "${times[@]}" | sort -n | awk '
        { v[NR] = $1 * 1000 }
        END { i50 = int((NR + 1) * 0.50); i95 = int(NR * 0.95 + 0.999); if (i95 > NR) i95 = NR;
              printf "%.1f %.1f %.1f\n", v[i50], v[i95], v[NR] }')
    mark=""
    if awk -v p="$p95" 'BEGIN { exit !(p >= 200) }'; then mark="  <-- over 200 ms"; slow=$((slow + 1)); fi
    printf '%-48s %6s %9s %9s %9s %9s%s\n' "${page:0:48}" "$status" "$first" "$p50" "$p95" "$max" "$mark"
done
echo
echo "pages with p95 of 200 ms or more: $slow"
