"""Models as a real Flask project writes them, for tests/test_model_logic.py.

Each piece of the model's own logic the dashboard honours has one example here: hybrids with
and without a SQL form, a ``column_property``, an association proxy, single-table and joined
inheritance, ``Enum`` classes, ``__str__``, ``info`` (label, help, hidden) on columns and two
custom ``TypeDecorator``s. Only generic types, every String with a length (MariaDB).
"""

from __future__ import annotations

import enum
import json
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Dialect,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    func,
    select,
)
from sqlalchemy.ext.associationproxy import AssociationProxy, association_proxy
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Cents(TypeDecorator[Decimal]):
    """Money as a Decimal in Python, whole cents in the database."""

    impl = Integer
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        return None if value is None else int(value * 100)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value) / 100


class JSONText(TypeDecorator[Any]):
    """A dict in Python, its JSON text in a plain text column (the classic recipe)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


class Status(enum.Enum):
    """Stored by member name (SQLAlchemy's default for an Enum class)."""

    ACTIVE = "Active"
    SUSPENDED = "Suspended for now"
    CLOSED = "Closed"


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    email: Mapped[str] = mapped_column(
        String(120), info={"label": "E-mail address", "help": "Receipts are sent here."}
    )
    password_hash: Mapped[str | None] = mapped_column(String(200), info={"hidden": True})
    status: Mapped[Status] = mapped_column(Enum(Status, name="account_status"))
    balance: Mapped[Decimal | None] = mapped_column(Cents)
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSONText)

    orders: Mapped[list[Order]] = relationship(back_populates="account")
    order_numbers: AssociationProxy[list[str]] = association_proxy("orders", "number")

    @hybrid_property
    def full_name(self) -> str:
        return self.first_name + " " + self.last_name

    @hybrid_property
    def initials(self) -> str:  # Python only: str methods have no SQL form
        return f"{self.first_name[:1]}{self.last_name[:1]}".upper()

    @hybrid_property
    def name_length(self) -> int:
        return len(self.first_name) + len(self.last_name)

    @name_length.inplace.expression
    @classmethod
    def _name_length_expression(cls) -> ColumnElement[int]:
        return func.length(cls.first_name) + func.length(cls.last_name)

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name} <{self.email}>"


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    total: Mapped[Decimal] = mapped_column(Cents)

    account: Mapped[Account] = relationship(back_populates="orders")

    def __str__(self) -> str:
        return f"Order {self.number}"


Account.order_count = column_property(  # type: ignore[attr-defined]
    select(func.count(Order.id))
    .where(Order.account_id == Account.id)
    .correlate_except(Order)
    .scalar_subquery()
)


class CouponCode(TypeDecorator[str]):
    """A code upper-case in Python, lower-case in the database: a primary key whose Python
    value is not what the database stores."""

    impl = String(20)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else value.lower()

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else value.upper()


class Coupon(Base):
    __tablename__ = "coupons"

    code: Mapped[str] = mapped_column(CouponCode, primary_key=True)
    percent: Mapped[int] = mapped_column(Integer)


# --- single-table inheritance: vehicles <- Car, Truck --------------------------------------


class Vehicle(Base):
    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(60))

    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "vehicle"}

    def __str__(self) -> str:
        return self.name


class Car(Vehicle):
    doors: Mapped[int | None] = mapped_column(Integer)

    __mapper_args__ = {"polymorphic_identity": "car"}


class Truck(Vehicle):
    payload_kg: Mapped[int | None] = mapped_column(Integer)

    __mapper_args__ = {"polymorphic_identity": "truck"}


# --- joined inheritance: documents <- invoices -----------------------------------------------


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(80))

    __mapper_args__ = {"polymorphic_on": "type", "polymorphic_identity": "document"}


class Invoice(Document):
    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Cents)

    __mapper_args__ = {"polymorphic_identity": "invoice"}
