"""Users, their grants and the hidden columns, kept in the state database.

Every function takes the state engine and does one change in one transaction; a refused
change raises ``AccountError`` with a sentence for the person who asked, and changes nothing.
The command line (``flask users …``) and the admin pages both call these.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..state.models import ApiToken, Grant, HiddenColumn, Setting, User
from .access import LEVELS, ROLES, GrantRule, hidden_map
from .passwords import hash_password, password_problem, random_password

NAME_RE = re.compile(r"[\w.@+-]{1,150}")


class AccountError(ValueError):
    """A change to accounts or grants that cannot be made, with the reason."""


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    epoch: int
    disabled: bool
    grants: tuple[GrantRule, ...]
    created_at: datetime | None = None
    last_login_at: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _account(user: User, grants: list[Grant]) -> Account:
    return Account(
        id=user.id,
        name=user.name,
        role=user.role,
        epoch=user.session_epoch or 0,
        disabled=user.disabled_at is not None,
        grants=tuple(
            GrantRule(g.database, g.schema, g.table, g.level)
            for g in sorted(grants, key=lambda g: (g.database, g.schema or "", g.table or ""))
        ),
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise AccountError(
            "A user name has 1 to 150 letters, digits and the characters . @ + - _ "
            f"(no spaces); {name[:160]!r} is not one."
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"The role must be one of {', '.join(ROLES)}; not {role!r}.")
    return role


def _user(session: Session, name: str) -> User:
    user = session.scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise AccountError(f"No user is called {name!r}.")
    return user


def account(
    engine: Engine, *, name: str | None = None, user_id: int | None = None
) -> Account | None:
    """One user with their grants (by name or id), or None."""
    with Session(engine) as session:
        query = select(User).where(User.name == name if name is not None else User.id == user_id)
        user = session.scalars(query).first()
        if user is None:
            return None
        grants = list(session.scalars(select(Grant).where(Grant.user_id == user.id)))
        return _account(user, grants)


def password_hash(engine: Engine, name: str) -> tuple[int, str | None, bool] | None:
    """(id, stored hash, disabled) of the user called ``name``, for signing in."""
    with engine.connect() as connection:
        row = connection.execute(
            select(User.id, User.password_hash, User.disabled_at).where(User.name == name)
        ).first()
    return None if row is None else (row[0], row[1], row[2] is not None)


def accounts(engine: Engine) -> list[Account]:
    with Session(engine) as session:
        users = list(session.scalars(select(User).order_by(User.name)))
        grants: dict[int, list[Grant]] = {}
        for grant in session.scalars(select(Grant)):
            grants.setdefault(grant.user_id, []).append(grant)
        return [_account(u, grants.get(u.id, [])) for u in users]


def create_user(engine: Engine, name: str, role: str, password: str | None = None) -> str:
    """Add a user; returns the password (a random one, to show once, when none is given)."""
    check_name(name)
    check_role(role)
    password = password if password is not None else random_password()
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    try:
        with Session(engine) as session, session.begin():
            # A random first epoch: SQLite gives a new user the id of a removed last one, and
            # the removed user's session cookie ("id.epoch") must not then name the new user.
            session.add(
                User(
                    name=name,
                    role=role,
                    password_hash=hash_password(password),
                    session_epoch=secrets.randbelow(2**30),
                )
            )
    except IntegrityError:
        raise AccountError(f"A user called {name!r} exists already.") from None
    return password


def set_password(engine: Engine, name: str, password: str) -> None:
    """A new password; every session of the user ends (their epoch moves on)."""
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    with Session(engine) as session, session.begin():
        user = _user(session, name)
        user.password_hash = hash_password(password)
        user.session_epoch = (user.session_epoch or 0) + 1


def end_sessions(engine: Engine, name: str) -> None:
    """End every session of the user, on every device (a copied cookie too)."""
    with Session(engine) as session, session.begin():
        user = _user(session, name)
        user.session_epoch = (user.session_epoch or 0) + 1


def rehash(engine: Engine, user_id: int, password: str) -> None:
    """Store the hash again with today's parameters (after a sign-in proved the password)."""
    with Session(engine) as session, session.begin():
        session.execute(
            update(User).where(User.id == user_id).values(password_hash=hash_password(password))
        )


def set_role(engine: Engine, name: str, role: str) -> None:
    check_role(role)
    with Session(engine) as session, session.begin():
        user = _user(session, name)
        if user.role == "admin" and role != "admin":
            _keep_an_admin(session, user)
        user.role = role


def set_disabled(engine: Engine, name: str, disabled: bool) -> None:
    """Disable (every session ends, tokens stop working) or enable a user."""
    with Session(engine) as session, session.begin():
        user = _user(session, name)
        if disabled and user.disabled_at is None:
            if user.role == "admin":
                _keep_an_admin(session, user)
            user.disabled_at = _now()
            user.session_epoch = (user.session_epoch or 0) + 1
        elif not disabled:
            user.disabled_at = None


def remove_user(engine: Engine, name: str) -> None:
    with Session(engine) as session, session.begin():
        user = _user(session, name)
        if user.role == "admin":
            _keep_an_admin(session, user)
        # explicit: SQLite enforces ON DELETE CASCADE only with PRAGMA foreign_keys
        session.execute(delete(Grant).where(Grant.user_id == user.id))
        session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
        session.delete(user)


def _keep_an_admin(session: Session, user: User) -> None:
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == "admin", User.id != user.id, User.disabled_at.is_(None))
    )
    if not others:
        raise AccountError(
            f"{user.name!r} is the last admin: make another user admin first, or nobody could "
            "manage users any more."
        )


def grant(
    engine: Engine,
    name: str,
    database: str,
    level: str,
    schema: str | None = None,
    table: str | None = None,
) -> None:
    """Give ``name`` a level on a database, one of its schemas, or one table (replacing the
    grant on exactly that target, if any)."""
    if level not in LEVELS:
        raise AccountError(f"The level must be one of {', '.join(LEVELS)}; not {level!r}.")
    schema = schema or None
    table = table or None
    with Session(engine) as session, session.begin():
        user = _user(session, name)
        session.execute(
            delete(Grant).where(Grant.user_id == user.id, *_target(database, schema, table))
        )
        session.add(
            Grant(user_id=user.id, database=database, schema=schema, table=table, level=level)
        )


def revoke(
    engine: Engine, name: str, database: str, schema: str | None = None, table: str | None = None
) -> bool:
    """Remove the grant on exactly that target; False when there was none."""
    with Session(engine) as session, session.begin():
        user = _user(session, name)
        result = session.execute(
            delete(Grant).where(
                Grant.user_id == user.id, *_target(database, schema or None, table or None)
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _target(database: str, schema: str | None, table: str | None) -> list[ColumnElement[bool]]:
    return [
        Grant.database == database,
        Grant.schema.is_(None) if schema is None else Grant.schema == schema,
        Grant.table.is_(None) if table is None else Grant.table == table,
    ]


def ensure_first_admin(engine: Engine, password: str | None) -> str | None:
    """With no user at all, create ``admin``; returns its password, or None when users
    exist (or another instance starting at the same moment created it). A given password
    that is refused raises AccountError: caught below, it would look like that race, and the
    dashboard would start with no user at all and nothing said."""
    problem = password_problem(password) if password else None
    if problem:
        raise AccountError(problem)
    with engine.connect() as connection:
        if connection.execute(select(func.count()).select_from(User)).scalar():
            return None
    try:
        return create_user(engine, "admin", "admin", password or None)
    except AccountError:
        return None  # the other instance won the race; it prints the password


def record_login(engine: Engine, user_id: int) -> None:
    with engine.begin() as connection:
        connection.execute(update(User).where(User.id == user_id).values(last_login_at=_now()))


# --- hidden columns ------------------------------------------------------------------------------


def hidden_rows(engine: Engine) -> list[tuple[str, str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                HiddenColumn.database, HiddenColumn.schema, HiddenColumn.table, HiddenColumn.column
            ).order_by(
                HiddenColumn.database, HiddenColumn.schema, HiddenColumn.table, HiddenColumn.column
            )
        ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def hidden(engine: Engine) -> dict[str, dict[str, frozenset[str]]]:
    return hidden_map(hidden_rows(engine))


def hide_column(engine: Engine, database: str, schema: str | None, table: str, column: str) -> None:
    try:
        with Session(engine) as session, session.begin():
            session.add(
                HiddenColumn(database=database, schema=schema or "", table=table, column=column)
            )
    except IntegrityError:
        pass  # hidden already


def show_column(engine: Engine, database: str, schema: str | None, table: str, column: str) -> bool:
    with engine.begin() as connection:
        result = connection.execute(
            delete(HiddenColumn).where(
                HiddenColumn.database == database,
                HiddenColumn.schema == (schema or ""),
                HiddenColumn.table == table,
                HiddenColumn.column == column,
            )
        )
    return bool(result.rowcount)


# --- shared settings -----------------------------------------------------------------------------


def shared_secret(engine: Engine) -> str:
    """The session-signing key every instance on this state database shares, made once."""
    with engine.connect() as connection:
        value = connection.execute(
            select(Setting.value).where(Setting.name == "secret_key")
        ).scalar()
    if value:
        return str(value)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(Setting).values(name="secret_key", value=secrets.token_hex(32))
            )
    except IntegrityError:
        pass  # another instance made it first: use theirs
    with engine.connect() as connection:
        return str(
            connection.execute(select(Setting.value).where(Setting.name == "secret_key")).scalar()
        )
