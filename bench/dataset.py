"""The list-page benchmark's dataset: customers, orders, products and order items at any scale.

    .venv/bin/python bench/dataset.py postgresql --orders 5000000     # or mariadb

It (re)creates the dedicated database ``rowboat_bench`` on the server and fills it inside the
server, with ``generate_series`` on PostgreSQL and the ``seq_1_to_N`` sequence tables on
MariaDB, so five million orders load in about a minute rather than an hour of round trips:

- ``customers``: orders / 25 rows (200,000 for 5M orders), a name, an e-mail, a city;
- ``products``: 1,000 rows;
- ``orders``: the given number of rows, a foreign key to ``customers``; ``created_at``,
  ``status`` and ``customer_id`` are indexed, ``amount`` and ``note`` are not (the unindexed
  sort and search cases);
- ``order_items``: a composite key ``(order_id, product_id)``, 1.25 rows per order.

Values are spread with multiplicative hashes of the row number, so sorting by ``created_at``
or ``amount`` is not the same as sorting by ``id``. Every tenth order's note mentions a gift.
"""

from __future__ import annotations

import argparse
import time

import servers
from sqlalchemy import create_engine, text

BENCH_DB = "rowboat_bench"
URLS = {name: servers.database_url(name, BENCH_DB) for name in servers.ADMIN}
PRODUCTS = 1000
SURNAMES = ("Smith", "Jones", "Garcia", "Müller", "Rossi", "Dubois", "Kowalski", "Silva", "Kim")
CITIES = ("Lisbon", "Oslo", "Leeds", "Lyon", "Turin", "Gdansk", "Porto", "Bergen")
STATUSES = ("new", "paid", "shipped", "delivered", "cancelled")


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def postgresql_script(orders: int, customers: int) -> list[str]:
    pick = "(ARRAY[{}])[1 + ({}) % {}]".format
    return [
        """CREATE TABLE customers (
            id integer PRIMARY KEY, name varchar(100) NOT NULL, email varchar(200) NOT NULL,
            city varchar(60), created_at timestamp NOT NULL)""",
        f"""INSERT INTO customers
            SELECT i, 'Customer ' || i || ' ' || {pick(_quoted(SURNAMES), "i", len(SURNAMES))},
                   'c' || i || '@example.com', {pick(_quoted(CITIES), "i", len(CITIES))},
                   timestamp '2015-01-01' + (i::bigint * 7919 % 300000000) * interval '1 second'
            FROM generate_series(1, {customers}) AS i""",
        """CREATE TABLE products (
            id integer PRIMARY KEY, name varchar(100) NOT NULL, price numeric(10, 2) NOT NULL)""",
        f"""INSERT INTO products
            SELECT i, 'Product ' || i, (i * 37 % 10000) / 100.0 + 1
            FROM generate_series(1, {PRODUCTS}) AS i""",
        """CREATE TABLE orders (
            id bigint PRIMARY KEY, customer_id integer NOT NULL, created_at timestamp NOT NULL,
            status varchar(20) NOT NULL, amount numeric(12, 2) NOT NULL, note varchar(200))""",
        f"""INSERT INTO orders
            SELECT i, 1 + (i * 7919) % {customers},
                   timestamp '2020-01-01' + (i * 2654435761 % 157680000) * interval '1 second',
                   {pick(_quoted(STATUSES), "i * 31", len(STATUSES))},
                   (i * 48271 % 10000000) / 100.0,
                   CASE WHEN i % 10 = 0 THEN 'gift wrap, card ' || i
                        WHEN i % 3 = 0 THEN NULL ELSE 'note ' || i END
            FROM generate_series(1::bigint, {orders}) AS i""",
        """CREATE TABLE order_items (
            order_id bigint NOT NULL, product_id integer NOT NULL, quantity integer NOT NULL,
            unit_price numeric(10, 2) NOT NULL, PRIMARY KEY (order_id, product_id))""",
        f"""INSERT INTO order_items
            SELECT i, 1 + i % {PRODUCTS}, 1 + i % 5, (i * 37 % 10000) / 100.0 + 1
            FROM generate_series(1::bigint, {orders}) AS i
            UNION ALL
            SELECT i, 1 + (i + 500) % {PRODUCTS}, 2, (i * 41 % 10000) / 100.0 + 1
            FROM generate_series(4::bigint, {orders}, 4) AS i""",
        "ALTER TABLE orders ADD FOREIGN KEY (customer_id) REFERENCES customers (id)",
        "ALTER TABLE order_items ADD FOREIGN KEY (order_id) REFERENCES orders (id)",
        "ALTER TABLE order_items ADD FOREIGN KEY (product_id) REFERENCES products (id)",
        "CREATE INDEX orders_created_at ON orders (created_at)",
        "CREATE INDEX orders_customer_id ON orders (customer_id)",
        "CREATE INDEX orders_status ON orders (status)",
        "CREATE INDEX order_items_product_id ON order_items (product_id)",
        "VACUUM ANALYZE",
    ]


def mariadb_script(orders: int, customers: int) -> list[str]:
    pick = "ELT(1 + ({}) % {}, {})".format
    return [
        "SET SESSION unique_checks = 0, foreign_key_checks = 0",
        """CREATE TABLE customers (
            id integer PRIMARY KEY, name varchar(100) NOT NULL, email varchar(200) NOT NULL,
            city varchar(60), created_at datetime NOT NULL)""",
        f"""INSERT INTO customers
            SELECT seq,
                   CONCAT('Customer ', seq, ' ', {pick("seq", len(SURNAMES), _quoted(SURNAMES))}),
                   CONCAT('c', seq, '@example.com'), {pick("seq", len(CITIES), _quoted(CITIES))},
                   TIMESTAMP '2015-01-01 00:00:00' + INTERVAL (seq * 7919 % 300000000) SECOND
            FROM seq_1_to_{customers}""",
        """CREATE TABLE products (
            id integer PRIMARY KEY, name varchar(100) NOT NULL, price numeric(10, 2) NOT NULL)""",
        f"""INSERT INTO products
            SELECT seq, CONCAT('Product ', seq), (seq * 37 % 10000) / 100.0 + 1
            FROM seq_1_to_{PRODUCTS}""",
        """CREATE TABLE orders (
            id bigint PRIMARY KEY, customer_id integer NOT NULL, created_at datetime NOT NULL,
            status varchar(20) NOT NULL, amount numeric(12, 2) NOT NULL, note varchar(200))""",
        f"""INSERT INTO orders
            SELECT seq, 1 + (seq * 7919) % {customers},
                   TIMESTAMP '2020-01-01 00:00:00'
                       + INTERVAL (seq * 2654435761 % 157680000) SECOND,
                   {pick("seq * 31", len(STATUSES), _quoted(STATUSES))},
                   (seq * 48271 % 10000000) / 100.0,
                   CASE WHEN seq % 10 = 0 THEN CONCAT('gift wrap, card ', seq)
                        WHEN seq % 3 = 0 THEN NULL ELSE CONCAT('note ', seq) END
            FROM seq_1_to_{orders}""",
        """CREATE TABLE order_items (
            order_id bigint NOT NULL, product_id integer NOT NULL, quantity integer NOT NULL,
            unit_price numeric(10, 2) NOT NULL, PRIMARY KEY (order_id, product_id))""",
        f"""INSERT INTO order_items
            SELECT seq, 1 + seq % {PRODUCTS}, 1 + seq % 5, (seq * 37 % 10000) / 100.0 + 1
            FROM seq_1_to_{orders}""",
        f"""INSERT INTO order_items
            SELECT seq, 1 + (seq + 500) % {PRODUCTS}, 2, (seq * 41 % 10000) / 100.0 + 1
            FROM seq_4_to_{orders}_step_4""",
        """ALTER TABLE orders ADD INDEX orders_created_at (created_at),
            ADD INDEX orders_customer_id (customer_id), ADD INDEX orders_status (status),
            ADD FOREIGN KEY (customer_id) REFERENCES customers (id)""",
        """ALTER TABLE order_items ADD INDEX order_items_product_id (product_id),
            ADD FOREIGN KEY (order_id) REFERENCES orders (id),
            ADD FOREIGN KEY (product_id) REFERENCES products (id)""",
        "ANALYZE TABLE customers, products, orders, order_items",
    ]


def create(engine_name: str, orders: int) -> float:
    """Drop and refill ``rowboat_bench`` on one server; returns the seconds it took."""
    started = time.monotonic()
    admin = create_engine(servers.ADMIN[engine_name], isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if engine_name == "postgresql":
            connection.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
            connection.execute(text(f"CREATE DATABASE {BENCH_DB}"))
        else:
            connection.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB}"))
            connection.execute(text(f"CREATE DATABASE {BENCH_DB} CHARACTER SET utf8mb4"))
    admin.dispose()
    customers = max(orders // 25, 10)
    script = (postgresql_script if engine_name == "postgresql" else mariadb_script)(
        orders, customers
    )
    engine = create_engine(URLS[engine_name], isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for statement in script:
            connection.execute(text(statement))
    engine.dispose()
    return time.monotonic() - started


def existing_orders(engine_name: str) -> int | None:
    """How many orders the bench database holds, or None when it is missing or incomplete."""
    try:
        engine = create_engine(URLS[engine_name])
        with engine.connect() as connection:
            n = connection.execute(text("SELECT max(id) FROM orders")).scalar()
            done = connection.execute(text("SELECT count(*) FROM order_items")).scalar()
        engine.dispose()
    except Exception:  # noqa: BLE001 - any failure means "build it again"
        return None
    return int(n) if n and done else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("engines", nargs="+", choices=sorted(URLS))
    parser.add_argument("--orders", type=int, default=200_000)
    options = parser.parse_args()
    for name in options.engines:
        seconds = create(name, options.orders)
        print(f"{name}: {options.orders:,} orders loaded into {BENCH_DB} in {seconds:.1f} s")


if __name__ == "__main__":
    main()
