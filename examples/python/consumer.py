"""pg_mq consumer in Python (psycopg 3), done right:

- poll in autocommit, waiting server-side (long-poll), so the claim commits at once and the
  lock timeout applies;
- per message, do the work and mq_complete in one transaction, rolling the work back when
  mq_complete says the lease is stale (the lock expired and someone else has the message);
- mq_fail on error (the message is retried with backoff, then dead-lettered);
- mq_extend as a heartbeat for long work;
- with --batch, acknowledge a whole batch with one mq_complete_batch;
- on SIGTERM or Ctrl-C, finish the message at hand and stop.

    DATABASE_URL=postgresql://worker@localhost/shop python consumer.py --idle-exit 5
"""

import argparse
import os
import signal
import time

import psycopg

stopping = False


def stop(*_):
    global stopping
    stopping = True


def work(conn, message):
    """The application's work, in the caller's transaction."""
    payload = message["payload"]
    if payload.get("poison"):
        raise ValueError("cannot process this order")
    if payload.get("slow"):
        # Long work: keep the lease alive, or the message is delivered to someone else.
        for _ in range(3):
            time.sleep(0.5)
            extended = conn.execute(
                "SELECT mq_extend(%s, %s, '30 seconds')", (message["id"], message["lease"])
            ).fetchone()[0]
            if extended is None:
                raise TimeoutError("lease lost")
    conn.execute(
        "INSERT INTO processed (order_id, message_id, consumer) VALUES (%s, %s, %s)",
        (payload["order_id"], message["id"], os.environ.get("CONSUMER", "python")),
    )


def handle(conn, message):
    """Work and acknowledgement in one transaction; returns what became of the message."""
    try:
        with conn.transaction():
            work(conn, message)
            done = conn.execute(
                "SELECT mq_complete(%s, %s)", (message["id"], message["lease"])
            ).fetchone()[0]
            if not done:
                # Stale lease: roll the work back, the current holder does it.
                raise psycopg.Rollback()
        return "completed" if done else "stale"
    except (ValueError, TimeoutError) as error:
        conn.execute(
            "SELECT mq_fail(%s, %s, %s)", (message["id"], str(error), message["lease"])
        )
        return "failed"


def handle_batch(conn, messages):
    """Acknowledge the batch with one call and do the work of the messages still ours, in one
    transaction: the acknowledgements commit with the work or not at all. If the work of one
    message fails, the batch is handled message by message instead."""
    try:
        with conn.transaction():
            rows = conn.execute(
                "SELECT status FROM mq_complete_batch(%s, %s)",
                ([m["id"] for m in messages], [m["lease"] for m in messages]),
            ).fetchall()
            for message, (status,) in zip(messages, rows):
                if status == "COMPLETED":  # None: a stale lease, someone else has it now
                    work(conn, message)
    except (ValueError, TimeoutError):
        for message in messages:
            handle(conn, message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--topic", default="orders")
    parser.add_argument("--batch", action="store_true")
    parser.add_argument("--idle-exit", type=float, default=0, help="exit after this many idle seconds")
    parser.add_argument("--lock-timeout", default="30 seconds")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    columns = "id, payload, lease, retry_count"
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None) as conn:
        idle_since = time.monotonic()
        while not stopping:
            rows = conn.execute(
                f"SELECT {columns} FROM mq_poll(%s, 10, lock_timeout => %s::interval, "
                "consumer_id => %s, wait => '1 second')",
                (args.topic, args.lock_timeout, os.environ.get("CONSUMER", "python")),
            ).fetchall()
            messages = [dict(zip(["id", "payload", "lease", "retry_count"], row)) for row in rows]
            if not messages:
                if args.idle_exit and time.monotonic() - idle_since > args.idle_exit:
                    break
                continue
            idle_since = time.monotonic()
            if args.batch:
                handle_batch(conn, messages)
            else:
                for message in messages:
                    handle(conn, message)
                    if stopping:
                        break
    print("consumer stopped")


if __name__ == "__main__":
    main()
