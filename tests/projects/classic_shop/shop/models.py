"""A shop in the classic declarative style: declarative_base() and Column()."""

import datetime

from sqlalchemy import (
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import backref, declarative_base, relationship

Base = declarative_base()


class Customer(Base):
    __tablename__ = "customers"

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False)
    email = Column(String(200), unique=True)

    def __repr__(self):
        return f"<Customer {self.name!r}>"


class Product(Base):
    __tablename__ = "products"

    sku = Column(String(20), primary_key=True)
    name = Column(String(100), nullable=False)
    price = Column(Numeric(10, 2), nullable=False)
    description = Column(Text)


class Order(Base):
    __tablename__ = "orders"

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    placed_at = Column(DateTime, default=datetime.datetime.utcnow, nullable=False)
    status = Column(
        Enum("new", "paid", "shipped", name="order_status"), nullable=False, default="new"
    )

    customer = relationship(Customer, backref=backref("orders", order_by=id))


class OrderLine(Base):
    __tablename__ = "order_lines"

    order_id = Column(Integer, ForeignKey("orders.id"), primary_key=True)
    product_sku = Column(String(20), ForeignKey("products.sku"), primary_key=True)
    quantity = Column(Integer, nullable=False, default=1)

    order = relationship(Order, backref="lines")
    product = relationship(Product)
