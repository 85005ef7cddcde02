"""Both kinds of inheritance: animals share one table, vehicles join a table per kind."""

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


# Single-table: every animal is a row of "animals"; "kind" says which class it is.
class Animal(Base):
    __tablename__ = "animals"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))

    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "animal"}


class Dog(Animal):
    breed: Mapped[str | None] = mapped_column(String(50))

    __mapper_args__ = {"polymorphic_identity": "dog"}


class Cat(Animal):
    indoor: Mapped[bool | None]

    __mapper_args__ = {"polymorphic_identity": "cat"}


# Joined: "vehicles" holds what every vehicle has, "cars" and "trucks" the rest.
class Vehicle(Base):
    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    maker: Mapped[str] = mapped_column(String(50))
    type: Mapped[str] = mapped_column(String(20))

    __mapper_args__ = {"polymorphic_on": "type", "polymorphic_identity": "vehicle"}


class Car(Vehicle):
    __tablename__ = "cars"

    id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), primary_key=True)
    seats: Mapped[int]

    __mapper_args__ = {"polymorphic_identity": "car"}


class Truck(Vehicle):
    __tablename__ = "trucks"

    id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), primary_key=True)
    payload_tons: Mapped[int]

    __mapper_args__ = {"polymorphic_identity": "truck"}
