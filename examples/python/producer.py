"""pg_mq producer in Python (psycopg 3): the transactional outbox.

The order and the message announcing it are written in one transaction: the message exists if
and only if the order does. Run:

    DATABASE_URL=postgresql://app@localhost/shop python producer.py --orders 100
"""

import argparse
import os

import psycopg
from psycopg.types.json import Jsonb


def place_order(conn, order_id, total, fail=False):
    """Insert an order and publish `orders` about it, atomically. With `fail`, the work raises
    after publishing: the transaction rolls back and takes the message with it."""
    with conn.transaction():
        conn.execute("INSERT INTO orders (id, total) VALUES (%s, %s)", (order_id, total))
        # jsonb parameters must be sent as jsonb: wrap them in Jsonb (a dict alone is not).
        conn.execute(
            "SELECT mq_publish(%s, %s, headers => %s)",
            ("orders", Jsonb({"order_id": order_id, "total": total}), Jsonb({"source": "python"})),
        )
        if fail:
            raise RuntimeError(f"order {order_id} could not be placed")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=10)
    parser.add_argument("--first", type=int, default=1, help="id of the first order")
    parser.add_argument("--fail-every", type=int, default=0, help="roll back every n-th order")
    args = parser.parse_args()
    # prepare_threshold=None: no server-side prepared statements, which PgBouncer in
    # transaction mode (before 1.21) cannot follow from one server connection to the next.
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None) as conn:
        placed = 0
        for order_id in range(args.first, args.first + args.orders):
            fail = args.fail_every and order_id % args.fail_every == 0
            try:
                place_order(conn, order_id, total=order_id * 10, fail=fail)
                placed += 1
            except RuntimeError:
                pass
        print(f"placed {placed} orders")


if __name__ == "__main__":
    main()
