"""The demo schema: the classic SQLAlchemy teaching examples in one declarative Base.

It exists so the dashboard has something realistic to show with zero configuration, and so
every feature the dashboard understands (relationship kinds, inheritance, hybrids, enums,
JSON, binary, comments, constraints) has one small, readable example to point at.

Only generic types are used, so the same models create cleanly on SQLite, PostgreSQL and
MariaDB; every String has a length because MariaDB requires one.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ColumnElement,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    func,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


def _enum(py_enum: type[enum.Enum], name: str) -> Enum:
    """Store the readable enum values (not the Python member names) under an explicit name,
    which PostgreSQL needs for its CREATE TYPE."""
    return Enum(py_enum, name=name, values_callable=lambda members: [m.value for m in members])


# --- Bookstore: one-to-many, many-to-many through a plain link table ------------------------


class BookFormat(enum.Enum):
    HARDCOVER = "hardcover"
    PAPERBACK = "paperback"
    EBOOK = "ebook"


VAT_RATE = Decimal("1.20")

# A plain link table: no extra columns, so it needs no class of its own.
book_tags = Table(
    "book_tags",
    Base.metadata,
    Column("book_id", ForeignKey("books.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    country: Mapped[str | None] = mapped_column(String(60))
    born: Mapped[dt.date | None] = mapped_column(Date)

    books: Mapped[list[Book]] = relationship(back_populates="author")

    def __str__(self) -> str:
        return self.name


class Book(Base):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # String(400), not 255: the demo data deliberately has a title longer than 300 characters.
    title: Mapped[str] = mapped_column(String(400))
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), index=True)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    published: Mapped[dt.date | None] = mapped_column(Date)
    isbn: Mapped[str | None] = mapped_column(
        String(17), unique=True, comment="ISBN-13 with hyphens; NULL when not yet assigned"
    )
    format: Mapped[BookFormat] = mapped_column(_enum(BookFormat, "book_format"))
    in_print: Mapped[bool] = mapped_column(Boolean, default=True)
    rating: Mapped[float | None] = mapped_column(Float, comment="Average reader rating, 1-5")
    word_count: Mapped[int | None] = mapped_column(BigInteger)
    # none_as_null: a Python None is stored as SQL NULL rather than the JSON text 'null'.
    details: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(none_as_null=True), comment="Free-form metadata: pages, language, edition"
    )
    cover: Mapped[bytes | None] = mapped_column(LargeBinary)

    author: Mapped[Author] = relationship(back_populates="books")
    tags: Mapped[list[Tag]] = relationship(secondary=book_tags, back_populates="books")

    @hybrid_property
    def price_with_tax(self) -> Decimal:
        # Prices have two decimals, so times 1.20 the third is never a 5: Python's and the
        # databases' different rounding rules cannot disagree.
        return (self.price * VAT_RATE).quantize(Decimal("0.01"))

    @price_with_tax.inplace.expression
    @classmethod
    def _price_with_tax_expression(cls) -> ColumnElement[Decimal]:
        # ROUND exists on all three databases; the type keeps results as Decimal, and the
        # label names the result column after the hybrid instead of "round_1".
        return func.round(cls.price * VAT_RATE, 2, type_=Numeric(10, 2)).label("price_with_tax")

    def __str__(self) -> str:
        return self.title


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("name", name="uq_tags_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    description: Mapped[str | None] = mapped_column(String(200))

    books: Mapped[list[Book]] = relationship(secondary=book_tags, back_populates="tags")

    def __str__(self) -> str:
        return self.name


# --- Company: one-to-many and a self-referencing hierarchy ----------------------------------


class Role(enum.Enum):
    ENGINEER = "engineer"
    SALES = "sales"
    SUPPORT = "support"
    FINANCE = "finance"
    MANAGER = "manager"


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    budget: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))

    employees: Mapped[list[Employee]] = relationship(back_populates="department")

    def __str__(self) -> str:
        return self.name


class Employee(Base):
    __tablename__ = "employees"
    __table_args__ = (CheckConstraint("salary >= 0", name="ck_employees_salary_non_negative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    email: Mapped[str] = mapped_column(String(120), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "employee_role"))
    hire_date: Mapped[dt.date] = mapped_column(Date)
    salary: Mapped[Decimal] = mapped_column(Numeric(12, 2), comment="Annual gross salary")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id"), index=True, comment="NULL for department heads"
    )

    department: Mapped[Department] = relationship(back_populates="employees")
    # remote_side marks which end of the self-reference is "one": the manager's id.
    manager: Mapped[Employee | None] = relationship(remote_side=[id], back_populates="reports")
    reports: Mapped[list[Employee]] = relationship(back_populates="manager")

    @hybrid_property
    def full_name(self) -> str:
        # One body serves both levels: on the class, + compiles to || or concat() per dialect.
        return self.first_name + " " + self.last_name

    def __str__(self) -> str:
        return self.full_name


# --- School: many-to-many through an association object with its own columns ----------------


PASSING_GRADES = ("A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D")


class Student(Base):
    __tablename__ = "students"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(120))
    gpa: Mapped[float | None] = mapped_column(Float)

    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="student")

    def __str__(self) -> str:
        return self.name


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    credits: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[dt.time | None] = mapped_column(Time, comment="Weekly lecture start")

    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="course")

    def __str__(self) -> str:
        return f"Course {self.code}"


class Enrollment(Base):
    __tablename__ = "enrollments"

    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), primary_key=True)
    enrolled_on: Mapped[dt.date] = mapped_column(Date)
    grade: Mapped[str | None] = mapped_column(String(2), comment="NULL until graded")

    student: Mapped[Student] = relationship(back_populates="enrollments")
    course: Mapped[Course] = relationship(back_populates="enrollments")

    @hybrid_property
    def passed(self) -> bool:
        return self.grade in PASSING_GRADES

    @passed.inplace.expression
    @classmethod
    def _passed_expression(cls) -> ColumnElement[bool]:
        return cls.grade.in_(PASSING_GRADES)

    def __str__(self) -> str:
        # Ids only: a row label must not trigger two lazy loads per row in a listing.
        return f"Student {self.student_id} in course {self.course_id}"


# --- Users: one-to-one ---------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    email: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)

    profile: Mapped[Profile | None] = relationship(back_populates="user", uselist=False)

    def __str__(self) -> str:
        return self.username


class Profile(Base):
    __tablename__ = "profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # unique=True is what makes this one-to-one in the database, not just in the ORM.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    bio: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, comment="UI preferences")
    last_login: Mapped[dt.datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship(back_populates="profile")

    def __str__(self) -> str:
        return self.display_name


# --- Joined-table inheritance: person <- staff_member <- staff_manager ----------------------


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), comment="Which subclass this row belongs to")
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(120))

    __mapper_args__ = {"polymorphic_on": kind, "polymorphic_identity": "person"}

    def __str__(self) -> str:
        return self.name


class StaffMember(Person):
    __tablename__ = "staff_member"

    id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)
    job_title: Mapped[str] = mapped_column(String(80))
    hired_on: Mapped[dt.date] = mapped_column(Date)

    __mapper_args__ = {"polymorphic_identity": "staff_member"}


class StaffManager(StaffMember):
    __tablename__ = "staff_manager"

    id: Mapped[int] = mapped_column(ForeignKey("staff_member.id"), primary_key=True)
    budget: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    reports_count: Mapped[int] = mapped_column(Integer, default=0)

    __mapper_args__ = {"polymorphic_identity": "staff_manager"}
