"""Build the demo SQLite database: deterministic, fast, and never left half-written.

The dashboard's zero-config mode points at this file, so the build has to be quick enough to
run on first start (Core-level bulk inserts, one transaction) and safe to interrupt (it builds
into a temporary file and renames it into place). The data is generated from a fixed seed so
every install shows the same rows, and it deliberately contains the awkward cases a dashboard
must render correctly: NULLs next to empty strings, unicode, HTML-looking text, a very long
title, binary data and JSON.

Usage: python -m rowboat.demo.build PATH
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import secrets
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert
from sqlalchemy.orm import Session

from .models import (
    Author,
    Base,
    Book,
    BookFormat,
    Course,
    Department,
    Employee,
    Enrollment,
    Person,
    Profile,
    Role,
    StaffManager,
    StaffMember,
    Student,
    Tag,
    User,
    book_tags,
)

Rows = list[dict[str, Any]]

SEED = 42
# A fixed "today", so the same seed gives the same dates whenever the file is built.
TODAY = dt.date(2024, 6, 1)

N_AUTHORS = 800
N_BOOKS = 5_000
N_DEPARTMENTS = 20
N_EMPLOYEES = 2_000
N_STUDENTS = 300
N_USERS = 500
N_PEOPLE = 200

FIRST_NAMES = [
    "Ada", "Alan", "Grace", "Linus", "Margaret", "Edsger", "Barbara", "Donald", "Frances",
    "Ken", "Radia", "Tim", "Hedy", "Dennis", "Katherine", "John", "Sophie", "Guido", "Anita",
    "Niklaus", "José", "Zoë", "Jürgen", "Renée", "Søren", "Łukasz", "Chloé", "François",
    "Björn", "Ana", "Mateo", "Priya", "Wei", "Olu", "Fatima", "Noémie",
]  # fmt: skip
LAST_NAMES = [
    "Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Dijkstra", "Liskov", "Knuth",
    "Allen", "Thompson", "Perlman", "Berners-Lee", "Lamarr", "Ritchie", "Johnson", "McCarthy",
    "Wilson", "van Rossum", "Borg", "Wirth", "Müller", "González", "Nguyễn", "Østergaard",
    "Kowalski", "Dubois", "O'Brien", "Okafor", "Haddad", "Schäfer",
]  # fmt: skip
# Japanese names are written family name first, so they get their own pools.
JA_FAMILY_NAMES = ["山田", "日本", "佐藤", "鈴木", "高橋", "田中"]
JA_GIVEN_NAMES = ["太郎", "花子", "健", "由美", "翔太", "さくら"]

TITLE_ADJECTIVES = [
    "Silent", "Crimson", "Hidden", "Last", "Forgotten", "Electric", "Gentle", "Infinite",
    "Broken", "Golden", "Midnight", "Curious", "Naïve", "Wandering", "Quiet",
]  # fmt: skip
TITLE_NOUNS = [
    "Garden", "River", "Algorithm", "Empire", "Lighthouse", "Theorem", "Kitchen", "Archive",
    "Orchard", "Compiler", "Voyage", "Café", "Library", "Index", "Harbour",
]  # fmt: skip
TITLE_TOPICS = [
    "SQL", "Python", "Relational Databases", "Bread Baking", "Gardening", "Typography",
    "Cryptography", "Jazz Harmony", "Urban Cycling", "Käse", "日本の庭園", "Query Planning",
]  # fmt: skip
TITLE_PATTERNS = [
    "The {adjective} {noun}",
    "{noun} of the {adjective} {noun2}",
    "A {adjective} Guide to {topic}",
    "{topic} in Practice",
    "Learning {topic}",
    "The {noun} and the {noun2}",
]
# The two fixed titles every dashboard view must survive: escaping, and truncation.
HTML_TITLE = '<b>Bold</b> & "quotes": <script>alert(1)</script> Escaping for Beginners'
LONG_TITLE = (
    "An Exceedingly Long and Thoroughly Comprehensive Treatise on the Design, Normalisation, "
    "Indexing, Querying, Migration, Replication, Backup, Restoration, Monitoring and Eventual "
    "Graceful Retirement of Relational Databases in Small, Medium and Unreasonably Large "
    "Organisations, With Numerous Worked Examples, Exercises, Footnotes, Appendices and an "
    "Index That Is Itself Rather Long"
)

TAG_NAMES = [
    "fiction", "sci-fi", "fantasy", "history", "biography", "databases", "python", "cooking",
    "travel", "poetry", "mystery", "romance", "horror", "philosophy", "science", "mathematics",
    "art", "music", "children", "young-adult", "business", "self-help", "politics", "sports",
    "health", "humour", "graphic-novel", "classics", "café-culture", "日本文学",
]  # fmt: skip
FORMAT_WEIGHTS = {BookFormat.HARDCOVER: 3, BookFormat.PAPERBACK: 5, BookFormat.EBOOK: 2}
COUNTRIES = ["UK", "USA", "France", "Germany", "Japan", "Brazil", "Nigeria", "India", "Poland"]
LANGUAGES = ["en", "fr", "de", "ja", "pt", "pl"]

DEPARTMENT_NAMES = [
    "Engineering", "Sales", "Support", "Finance", "Marketing", "Legal", "People", "Research",
    "Operations", "Design", "Data", "Security", "Facilities", "Procurement", "Quality",
    "Logistics", "Customer Success", "Product", "Training", "Recherche & Développement",
]  # fmt: skip
ROLE_WEIGHTS = {Role.ENGINEER: 4, Role.SALES: 2, Role.SUPPORT: 2, Role.FINANCE: 1, Role.MANAGER: 1}

COURSE_SUBJECTS = {
    "CS": "Computer Science", "MATH": "Mathematics", "PHYS": "Physics", "CHEM": "Chemistry",
    "BIO": "Biology", "HIST": "History", "ART": "Art", "MUS": "Music", "LIT": "Literature",
    "ECON": "Economics",
}  # fmt: skip
COURSE_LEVELS = {101: "Introduction to", 201: "Intermediate", 301: "Advanced", 401: "Topics in"}
GRADES = ["A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D", "F"]

BIOS = [
    "Writes SQL for fun.",
    "Coffee first, then joins.",
    "Ich mag Datenbanken & Käse.",
    "J'aime les index composés.",
    "データベースが好きです。",
    "Line one.\nLine two, after a newline.",
    "Uses <em>HTML</em> in bios & expects it escaped.",
]
JOB_TITLES = ["Analyst", "Clerk", "Technician", "Coordinator", "Specialist", "Assistant"]


def ensure_demo_database(path: str) -> str:
    """Build the demo database at `path` unless it exists; return its SQLAlchemy URL."""
    target = Path(path).resolve()
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        _build_atomically(target)
    return f"sqlite:///{target}"


def populate(session: Session) -> None:
    """Insert the demo rows into freshly created, empty tables.

    Public so tests can load the same data into PostgreSQL or MariaDB. Ids are explicit, so
    PostgreSQL's id sequences are not advanced: fine for browsing, not for adding rows.
    """
    for target, rows in _generate(random.Random(SEED)):
        # insert(Model) with a list of dicts is the ORM's bulk path: one executemany per table,
        # and for the inheritance classes it fills every table of the chain.
        session.execute(insert(target), rows)


def _build_atomically(target: Path) -> None:
    # Same directory as the target, so the final rename cannot cross filesystems. Not mkstemp:
    # its 0600 mode would stick to the final file, and SQLite creates the file with the umask.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        _build(tmp)
        # A link, not a rename: gunicorn workers started without the start check each build
        # the demo when it is missing, and a rename would put the second file over the first
        # while a worker has it open; that worker's writes would then go to the unlinked file
        # ("attempt to write a readonly database"), or be lost. The first file placed stays.
        try:
            os.link(tmp, target)
        except FileExistsError:
            pass  # another process placed it first: that one is the demo
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}-journal").unlink(missing_ok=True)


def _build(path: Path) -> None:
    engine = create_engine(f"sqlite:///{path}")
    try:
        Base.metadata.create_all(engine)
        with Session(engine) as session, session.begin():
            populate(session)
    finally:
        engine.dispose()


def _generate(rng: random.Random) -> list[tuple[Any, Rows]]:
    """All rows, in foreign-key order, as (insert target, rows) pairs."""
    authors = _authors(rng)
    books = _books(rng, len(authors))
    tags = _tags(rng)
    departments = _departments(rng)
    students = _students(rng)
    courses = _courses(rng)
    user_names = [_full_name(rng) for _ in range(N_USERS)]
    return [
        (Author, authors),
        (Book, books),
        (Tag, tags),
        (book_tags, _book_tags(rng, len(books), len(tags))),
        (Department, departments),
        (Employee, _employees(rng, len(departments))),
        (Student, students),
        (Course, courses),
        (Enrollment, _enrollments(rng, len(students), len(courses))),
        (User, _users(rng, user_names)),
        (Profile, _profiles(rng, user_names)),
        *_people(rng),
    ]


# --- Small value helpers ---------------------------------------------------------------------


def _name_parts(rng: random.Random) -> tuple[str, str]:
    """(first, last) name; one in ten is Japanese, to exercise non-Latin text."""
    if rng.random() < 0.1:
        return rng.choice(JA_GIVEN_NAMES), rng.choice(JA_FAMILY_NAMES)
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def _full_name(rng: random.Random) -> str:
    first, last = _name_parts(rng)
    # Japanese names read family name first.
    return f"{last} {first}" if first in JA_GIVEN_NAMES else f"{first} {last}"


def _ascii_slug(text: str) -> str:
    """'Zoë O'Brien' -> 'zoe.obrien'; empty for scripts with no ASCII transliteration."""
    decomposed = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = ["".join(c for c in word if c.isalnum()) for word in decomposed.lower().split()]
    return ".".join(word for word in words if word)


def _email(name: str, unique: int, domain: str = "example.com") -> str:
    return f"{_ascii_slug(name) or 'user'}.{unique}@{domain}"


def _days_ago(rng: random.Random, max_days: int) -> dt.date:
    return TODAY - dt.timedelta(days=rng.randrange(max_days))


def _moment(rng: random.Random, max_days: int) -> dt.datetime:
    day = _days_ago(rng, max_days)
    return dt.datetime.combine(
        day, dt.time(rng.randrange(24), rng.randrange(60), rng.randrange(60))
    )


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    """A random amount between low and high (whole units), with cents."""
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


def _weighted(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _maybe(rng: random.Random, probability: float, value: Any) -> Any:
    """value, or None with the given probability: sprinkles NULLs through the data."""
    return None if rng.random() < probability else value


# --- Bookstore -------------------------------------------------------------------------------


def _authors(rng: random.Random) -> Rows:
    return [
        {
            "id": i,
            "name": _full_name(rng),
            # '' and NULL side by side: "unknown" versus "known to be none".
            "country": rng.choice([*COUNTRIES, "", None]),
            "born": _maybe(rng, 0.2, _days_ago(rng, 365 * 90)),
        }
        for i in range(1, N_AUTHORS + 1)
    ]


def _books(rng: random.Random, n_authors: int) -> Rows:
    titles = [HTML_TITLE, LONG_TITLE] + [_title(rng) for _ in range(N_BOOKS - 2)]
    return [_book(rng, i, title, n_authors) for i, title in enumerate(titles, start=1)]


def _title(rng: random.Random) -> str:
    return rng.choice(TITLE_PATTERNS).format(
        adjective=rng.choice(TITLE_ADJECTIVES),
        noun=rng.choice(TITLE_NOUNS),
        noun2=rng.choice(TITLE_NOUNS),
        topic=rng.choice(TITLE_TOPICS),
    )


def _book(rng: random.Random, book_id: int, title: str, n_authors: int) -> dict[str, Any]:
    return {
        "id": book_id,
        "title": title,
        "author_id": rng.randint(1, n_authors),
        "price": _money(rng, 3, 120),
        "published": _maybe(rng, 0.03, _days_ago(rng, 365 * 80)),
        "isbn": _maybe(rng, 0.08, _isbn(rng, book_id)),
        "format": _weighted(rng, FORMAT_WEIGHTS),
        "in_print": rng.random() < 0.8,
        "rating": _maybe(rng, 0.1, round(rng.uniform(1, 5), 2)),
        "word_count": _maybe(rng, 0.1, rng.randrange(20_000, 600_000)),
        "details": _maybe(rng, 0.1, _book_details(rng)),
        # A few books get a small fake PNG, so binary columns have something to render.
        "cover": b"\x89PNG\r\n\x1a\n" + rng.randbytes(24) if rng.random() < 0.02 else None,
    }


def _isbn(rng: random.Random, book_id: int) -> str:
    """A valid ISBN-13 (check digit included), unique because it embeds the book id."""
    digits = f"9781{book_id:05d}{rng.randrange(1000):03d}"
    check = -sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits)) % 10
    return f"{digits[:3]}-{digits[3]}-{digits[4:9]}-{digits[9:]}-{check}"


def _book_details(rng: random.Random) -> dict[str, Any]:
    details: dict[str, Any] = {
        "pages": rng.randrange(40, 1200),
        "language": rng.choice(LANGUAGES),
        "edition": rng.randint(1, 6),
    }
    if rng.random() < 0.1:
        details["awards"] = rng.sample(["Hugo", "Nebula", "Booker", "Goncourt", "芥川賞"], 2)
    return details


def _tags(rng: random.Random) -> Rows:
    descriptions = ["", None, "Staff pick", "Curated by the editors"]
    return [
        {"id": i, "name": name, "description": rng.choice(descriptions)}
        for i, name in enumerate(TAG_NAMES, start=1)
    ]


def _book_tags(rng: random.Random, n_books: int, n_tags: int) -> Rows:
    # Between 0 and 4 tags per book, 2.4 on average: about 12,000 links for 5,000 books.
    counts = [0, 1, 2, 2, 2, 3, 3, 3, 4, 4]
    tag_ids = range(1, n_tags + 1)
    return [
        {"book_id": book_id, "tag_id": tag_id}
        for book_id in range(1, n_books + 1)
        for tag_id in rng.sample(tag_ids, rng.choice(counts))
    ]


# --- Company ---------------------------------------------------------------------------------


def _departments(rng: random.Random) -> Rows:
    return [
        {"id": i, "name": name, "budget": _maybe(rng, 0.1, _money(rng, 100_000, 5_000_000))}
        for i, name in enumerate(DEPARTMENT_NAMES, start=1)
    ]


def _employees(rng: random.Random, n_departments: int) -> Rows:
    """Employee i reports to an earlier employee of the same department, so the manager
    hierarchy is a forest with one head per department and every foreign key points back."""
    members: dict[int, list[int]] = {d: [] for d in range(1, n_departments + 1)}
    rows = []
    for employee_id in range(1, N_EMPLOYEES + 1):
        is_head = employee_id <= n_departments
        department_id = employee_id if is_head else rng.randint(1, n_departments)
        manager_id = None if is_head else rng.choice(members[department_id])
        members[department_id].append(employee_id)
        rows.append(_employee(rng, employee_id, department_id, manager_id))
    return rows


def _employee(
    rng: random.Random, employee_id: int, department_id: int, manager_id: int | None
) -> dict[str, Any]:
    first, last = _name_parts(rng)
    role = Role.MANAGER if manager_id is None else _weighted(rng, ROLE_WEIGHTS)
    return {
        "id": employee_id,
        "first_name": first,
        "last_name": last,
        "email": _email(f"{first} {last}", employee_id, "corp.example.com"),
        "role": role,
        "hire_date": _days_ago(rng, 365 * 30),
        "salary": _money(rng, 28_000, 250_000),
        "active": rng.random() < 0.92,
        "department_id": department_id,
        "manager_id": manager_id,
    }


# --- School ----------------------------------------------------------------------------------


def _students(rng: random.Random) -> Rows:
    rows = []
    for i in range(1, N_STUDENTS + 1):
        name = _full_name(rng)
        rows.append(
            {
                "id": i,
                "name": name,
                "email": rng.choice([_email(name, i, "uni.example.edu"), "", None]),
                "gpa": _maybe(rng, 0.15, round(rng.uniform(1.0, 4.0), 2)),
            }
        )
    return rows


def _courses(rng: random.Random) -> Rows:
    offerings = [
        (p, s, n, lvl) for p, s in COURSE_SUBJECTS.items() for n, lvl in COURSE_LEVELS.items()
    ]
    return [
        {
            "id": i,
            "code": f"{prefix}{number}",
            "title": f"{level} {subject}",
            "credits": rng.randint(1, 5),
            "starts_at": _maybe(rng, 0.1, dt.time(rng.randint(8, 17), rng.choice([0, 30]))),
        }
        for i, (prefix, subject, number, level) in enumerate(offerings, start=1)
    ]


def _enrollments(rng: random.Random, n_students: int, n_courses: int) -> Rows:
    # Ten distinct courses per student on average: about 3,000 enrollments.
    return [
        {
            "student_id": student_id,
            "course_id": course_id,
            "enrolled_on": _days_ago(rng, 365 * 4),
            "grade": _maybe(rng, 0.2, rng.choice(GRADES)),
        }
        for student_id in range(1, n_students + 1)
        for course_id in rng.sample(range(1, n_courses + 1), rng.randint(5, 15))
    ]


# --- Users -----------------------------------------------------------------------------------


def _users(rng: random.Random, names: list[str]) -> Rows:
    return [
        {
            "id": user_id,
            "username": f"{_ascii_slug(name).replace('.', '_') or 'user'}_{user_id}",
            "email": _email(name, user_id),
            "created_at": _moment(rng, 365 * 5),
            "is_admin": rng.random() < 0.02,
        }
        for user_id, name in enumerate(names, start=1)
    ]


def _profiles(rng: random.Random, names: list[str]) -> Rows:
    """Four users in five have a profile, so the one-to-one is sometimes empty."""
    owners = [(user_id, name) for user_id, name in enumerate(names, start=1) if rng.random() < 0.8]
    return [
        {
            "id": i,
            "user_id": user_id,
            "display_name": name,
            "bio": _bio(rng),
            "settings": {
                "theme": rng.choice(["light", "dark", "system"]),
                "language": rng.choice(LANGUAGES),
                "notifications": {"email": rng.random() < 0.5, "push": rng.random() < 0.3},
            },
            "last_login": _maybe(rng, 0.1, _moment(rng, 365)),
        }
        for i, (user_id, name) in enumerate(owners, start=1)
    ]


def _bio(rng: random.Random) -> str | None:
    """NULL (never written), '' (deliberately cleared) and real text, roughly 3:2:5."""
    roll = rng.random()
    if roll < 0.3:
        return None
    if roll < 0.5:
        return ""
    return rng.choice(BIOS)


# --- Joined-table inheritance ----------------------------------------------------------------


def _people(rng: random.Random) -> list[tuple[Any, Rows]]:
    """Half plain people, a third staff members, the rest managers; ids interleaved, so a
    listing of `person` shows the kinds mixed as they would be in real data."""
    kinds = [Person] * 100 + [StaffMember] * 65 + [StaffManager] * 35
    rng.shuffle(kinds)
    rows: dict[type[Person], Rows] = {Person: [], StaffMember: [], StaffManager: []}
    for person_id, kind in enumerate(kinds, start=1):
        rows[kind].append(_person(rng, person_id, kind))
    return list(rows.items())


def _person(rng: random.Random, person_id: int, kind: type[Person]) -> dict[str, Any]:
    name = _full_name(rng)
    row: dict[str, Any] = {
        "id": person_id,
        "name": name,
        "email": _maybe(rng, 0.2, _email(name, person_id)),
    }
    if issubclass(kind, StaffMember):
        row |= {"job_title": rng.choice(JOB_TITLES), "hired_on": _days_ago(rng, 365 * 20)}
    if kind is StaffManager:
        row |= {"budget": _money(rng, 10_000, 900_000), "reports_count": rng.randint(1, 12)}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the Rowboat demo SQLite database.")
    parser.add_argument("path", help="where to write the .sqlite file (kept if it exists)")
    print(ensure_demo_database(parser.parse_args().path))


if __name__ == "__main__":
    main()
