"""The access rules (roles, grants, hidden columns) and the narrowed catalog, without Flask."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, create_engine

from rowboat.auth.access import OPEN, Access, GrantRule, hidden_map
from rowboat.auth.visible import grant_target, readable_names, visible_catalog
from rowboat.catalog.discovery import discover
from rowboat.catalog.model import Catalog
from rowboat.catalog.narrow import narrowed
from rowboat.config import DatabaseConfig


def rule(database: str, level: str, schema: str | None = None, table: str | None = None):
    return GrantRule(database, schema, table, level)


def test_the_most_specific_grant_decides() -> None:
    access = Access(
        user="ada",
        role="editor",
        grants=(
            rule("shop", "read"),
            rule("shop", "write", table="orders"),
            rule("shop", "none", table="secrets"),
            rule("shop", "write", schema="sales"),
            rule("shop", "read", schema="sales", table="ledger"),
        ),
    )
    assert access.level("shop", None, "customers") == "read"
    assert access.level("shop", None, "orders") == "write"
    assert access.level("shop", None, "secrets") == "none"
    assert access.level("shop", "sales", "invoices") == "write"
    assert access.level("shop", "sales", "ledger") == "read"
    # a table grant names its schema: "orders" in schema sales is not the default one's
    assert access.level("shop", "sales", "orders") == "write"  # from sales.*
    assert access.level("other", None, "orders") == "none"
    assert access.sees_database("shop") and not access.sees_database("other")
    assert not access.reads_whole("shop")  # "secrets" is none


def test_roles_and_tokens_cap_the_grants() -> None:
    grants = (rule("shop", "write"),)
    assert Access("v", "viewer", grants).level("shop", None, "t") == "read"
    assert Access("e", "editor", grants).level("shop", None, "t") == "write"
    assert Access("e", "editor", grants, read_only=True).level("shop", None, "t") == "read"
    admin = Access("a", "admin")
    assert admin.level("anything", "x", "y") == "write" and admin.is_admin
    assert admin.reads_whole("anything") and admin.sees_database("anything")
    assert not Access("a", "admin", read_only=True).is_admin
    anonymous = Access(None, "anonymous", grants)
    assert anonymous.level("shop", None, "t") == "none"
    assert OPEN.level("shop", None, "t") == "write"


def test_a_database_grant_with_no_exception_reads_the_whole_database() -> None:
    assert Access("v", "viewer", (rule("shop", "read"),)).reads_whole("shop")
    assert not Access("v", "viewer", (rule("shop", "read", table="t"),)).reads_whole("shop")
    assert not Access("v", "viewer", (rule("shop", "none"),)).reads_whole("shop")


def test_scopes_read_as_people_write_them() -> None:
    assert rule("shop", "read").scope == "shop"
    assert rule("shop", "read", schema="sales").scope == "shop/sales.*"
    assert rule("shop", "read", table="orders").scope == "shop/orders"
    assert rule("shop", "read", schema="sales", table="orders").scope == "shop/sales.orders"


def test_hidden_map_names_entities_as_the_catalog_does() -> None:
    rows = [("shop", "", "users", "hash"), ("shop", "", "users", "salt"), ("shop", "s", "t", "c")]
    assert hidden_map(rows) == {
        "shop": {"users": frozenset({"hash", "salt"}), "s.t": frozenset({"c"})}
    }


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    path: Path = tmp_path_factory.mktemp("access") / "shop.sqlite"
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    metadata = MetaData()
    Table(
        "customers",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(50)),
        Column("password_hash", String(100)),
    )
    Table(
        "orders",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("customer_id", ForeignKey("customers.id")),
        Column("note", String(50)),
    )
    Table("secrets", metadata, Column("id", Integer, primary_key=True), Column("v", String(9)))
    metadata.create_all(engine)
    try:
        return discover(DatabaseConfig(name="shop", url=url), engine)
    finally:
        engine.dispose()


def test_everything_visible_is_the_catalog_itself(catalog: Catalog) -> None:
    assert narrowed(catalog, None, {}) is catalog
    assert narrowed(catalog, frozenset(catalog.entities), {}) is catalog
    assert visible_catalog("shop", catalog, OPEN) is catalog


def test_a_narrowed_catalog_drops_tables_relations_and_hidden_columns(catalog: Catalog) -> None:
    access = Access(
        "ada",
        "editor",
        (rule("shop", "write", table="orders"),),
        hidden={"shop": {"orders": frozenset({"note"}), "customers": frozenset({"id"})}},
    )
    seen = visible_catalog("shop", catalog, access)
    assert set(seen.entities) == {"orders"}
    orders = seen.entities["orders"]
    assert "note" not in orders.columns and "customer_id" in orders.columns
    # the relation into customers (not readable) is gone: no label, no join, no preview
    assert not orders.relations
    assert catalog.entities["orders"].relations  # the full catalog is untouched
    assert "note" in catalog.entities["orders"].columns
    # the same narrowed catalog (and entities) next time: caches keyed by entity keep working
    assert visible_catalog("shop", catalog, access) is seen
    assert readable_names("shop", catalog, access) == frozenset({"orders"})


def test_a_primary_key_is_never_hidden(catalog: Catalog) -> None:
    seen = narrowed(catalog, None, {"customers": frozenset({"id", "password_hash"})})
    customers = seen.entities["customers"]
    assert "id" in customers.columns and "password_hash" not in customers.columns
    assert seen.entities["orders"] is catalog.entities["orders"]


def test_grant_targets(catalog: Catalog) -> None:
    from rowboat.auth.accounts import AccountError

    assert grant_target(catalog, "") == (None, None)
    assert grant_target(catalog, " orders ") == (None, "orders")
    assert grant_target(catalog, "sales.*") == ("sales", None)
    with pytest.raises(AccountError, match="no table or view 'nope'"):
        grant_target(catalog, "nope")
