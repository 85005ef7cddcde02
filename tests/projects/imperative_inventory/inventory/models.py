"""An inventory mapped imperatively: plain dataclasses, Core tables, registry.map_imperatively."""

from dataclasses import dataclass, field

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table
from sqlalchemy.orm import registry, relationship

mapper_registry = registry(metadata=MetaData())

warehouse_table = Table(
    "warehouse",
    mapper_registry.metadata,
    Column("id", Integer, primary_key=True),
    Column("city", String(80), nullable=False),
)

item_table = Table(
    "item",
    mapper_registry.metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(80), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("warehouse_id", Integer, ForeignKey("warehouse.id"), nullable=False),
)


@dataclass
class Warehouse:
    city: str
    id: int | None = None
    items: list["Item"] = field(default_factory=list)


@dataclass
class Item:
    name: str
    quantity: int
    warehouse_id: int | None = None
    id: int | None = None
    warehouse: Warehouse | None = None


mapper_registry.map_imperatively(
    Warehouse, warehouse_table, properties={"items": relationship(Item, back_populates="warehouse")}
)
mapper_registry.map_imperatively(
    Item, item_table, properties={"warehouse": relationship(Warehouse, back_populates="items")}
)
