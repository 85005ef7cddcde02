"""Tables only, as a project that uses SQLAlchemy Core (or reflects) declares them."""

from sqlalchemy import Column, Date, ForeignKey, Integer, MetaData, Numeric, String, Table

metadata = MetaData()

regions = Table(
    "regions",
    metadata,
    Column("code", String(8), primary_key=True),
    Column("name", String(80), nullable=False),
)

sales = Table(
    "sales",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("region_code", String(8), ForeignKey("regions.code"), nullable=False),
    Column("day", Date, nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
)
