"""Settings: one self-documenting table, read from defaults, then the environment, then overrides.

Every knob the dashboard has is listed in SETTINGS with its default, type and help text, so the
settings page and the README can be generated from the same place and a typo in an environment
variable fails at start-up instead of being silently ignored.
"""

from __future__ import annotations

import importlib
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[str], Any]
    help: str


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean, got {text!r}")


# Where the demo database and the default state database live, relative to the checkout.
INSTANCE_FOLDER = "instance"

SETTINGS: tuple[Setting, ...] = (
    Setting("PAGE_SIZE", 50, int, "Rows on a list page unless the URL asks for another size."),
    Setting("MAX_PAGE_SIZE", 500, int, "Largest page size a URL may ask for (_size)."),
    Setting(
        "COUNT_CAP",
        10_000,
        int,
        "Rows are counted exactly up to this many; beyond it the "
        "count is shown as 'N+' or as the database's own estimate.",
    ),
    Setting(
        "FILTER_COUNT_CAP",
        1_000,
        int,
        "A filtered or searched list counts its matches up to this many ('N+' beyond), on "
        "every page view, reading about cap / match rate rows (PostgreSQL asks its planner "
        "first and shows an estimate when that is far above the cap).",
    ),
    Setting(
        "STATEMENT_TIMEOUT",
        5.0,
        float,
        "Seconds any one statement may run before the database cancels it.",
    ),
    Setting(
        "SLOW_PAGE",
        0.25,
        float,
        "A list page whose query takes longer than this many seconds says so and names the "
        "sort or filter columns that lack an index.",
    ),
    Setting(
        "DISCOVERY_RETRY",
        30.0,
        float,
        "Seconds a database whose tables could not be read (reflection or the models failed) "
        "waits before it is read again; meanwhile its pages answer 503 with the reason. "
        "“Refresh schema” tries again at once.",
    ),
    Setting("POOL_SIZE", 5, int, "Connections kept open per database (not used for SQLite files)."),
    Setting("MAX_OVERFLOW", 10, int, "Extra connections allowed per database under load."),
    Setting("POOL_TIMEOUT", 10.0, float, "Seconds a request waits for a free connection."),
    Setting("POOL_RECYCLE", 1800, int, "Seconds after which a pooled connection is replaced."),
    Setting("READ_ONLY", False, _bool, "Refuse every write, on every database."),
    Setting(
        "MAX_FORM_MEMORY",
        16 * 1024 * 1024,
        int,
        "Largest value, in bytes, one field of a row form may send (a long text); a bigger one "
        "is refused with 413. Werkzeug's own default, 500 KB, refused megabyte texts. Files "
        "(binary columns) are not held in memory and not bound by it.",
    ),
    Setting("QUERY_ROW_LIMIT", 100, int, "Rows a query-builder query shows when it sets no limit."),
    Setting("QUERY_MAX_ROWS", 1000, int, "Most rows the query page shows, whatever the limit."),
    Setting("EXPORT_MAX_ROWS", 10_000_000, int, "Most rows one CSV/JSON export streams."),
    Setting(
        "EXPORT_TIMEOUT",
        300.0,
        float,
        "Seconds an export may take from its start to its last row; at that point its "
        "statement is cancelled on the server and the download ends saying so.",
    ),
    Setting(
        "DEMO_PATH",
        f"{INSTANCE_FOLDER}/demo.sqlite",
        str,
        "Where the built-in demo database is built when no database is configured.",
    ),
    Setting(
        "CONNECT_TIMEOUT",
        5.0,
        float,
        "Seconds to open a connection to a database server (network and login), and how long "
        "past a statement's time limit the dashboard waits for a server that does not answer "
        "before it drops the connection and answers 503.",
    ),
    Setting(
        "DISCOVERY_WAIT",
        10.0,
        float,
        "Seconds a request waits while another request reads a database's tables; then it "
        "answers 503 with Retry-After instead of piling up behind it.",
    ),
    Setting(
        "HEALTH_TIMEOUT",
        2.0,
        float,
        "Seconds /healthz waits for each database (all are checked at once); its answer is "
        "reused for one second.",
    ),
    Setting(
        "SLOW_SLOTS",
        2,
        int,
        "Slow operations (exports, query-builder runs, list pages sorted, filtered or searched "
        "without an index) that may run at once on one database in one worker process; one "
        "more is answered at once with 503 and Retry-After. 0: no limit.",
    ),
    Setting(
        "EXPORT_IDLE_TIMEOUT",
        10.0,
        float,
        "Seconds an export waits for a client that stopped reading before it cancels its "
        "statement and closes its transaction (which is never left idle longer).",
    ),
    Setting(
        "MAX_UPLOAD",
        1024**3,
        int,
        "Largest file, in bytes, a binary column of a row form accepts; below it each column's "
        "own limit applies (a MariaDB BLOB 64 KB, MEDIUMBLOB 16 MB, and no more than "
        "max_allowed_packet; PostgreSQL bytea 1 GB). A bigger file is refused with 413. Files "
        "are written and read a slice at a time, never held whole in memory.",
    ),
    Setting(
        "MAX_FILTERS",
        50,
        int,
        "Most filters one list page (or list export) may have; more is refused with 400.",
    ),
    Setting(
        "MAX_URL_LENGTH",
        8192,
        int,
        "Longest request path plus query string, in bytes; a longer one is refused with 414.",
    ),
    Setting(
        "TRUSTED_HOSTS",
        ("localhost", "127.0.0.1", "[::1]"),
        lambda text: _hosts(text),
        "Host names (Host header, without the port) the dashboard answers; any other answers "
        "400, so a DNS-rebinding page cannot reach a localhost install. Comma- or space-"
        "separated; '.example.com' also allows its subdomains; '*' allows any host. Set it "
        "when serving on another address (ROWBOAT_BIND=0.0.0.0:8000).",
    ),
    Setting(
        "BASE_URL",
        "",
        lambda text: _base_url(text),
        "The dashboard's public address (https://dash.example.com, or with a path prefix), "
        "used for the links it shares (a query's share URL); unset: the request's own "
        "(trusted) host.",
    ),
    Setting(
        "STATE_URL",
        "",
        str,
        "Rowboat's own state database (users, grants, API tokens), an SQLAlchemy URL: a SQLite "
        "file, or PostgreSQL or MariaDB shared by several instances. Its migrations are applied "
        "on start, under a lock. Unset: instance/state.sqlite, beside the demo database.",
    ),
    Setting(
        "AUTH",
        True,
        _bool,
        "Require sign-in (accounts, roles and grants). Off: whoever reaches the port may read "
        "and change everything, as on a dashboard only you can reach.",
    ),
    Setting(
        "ADMIN_PASSWORD",
        "",
        str,
        "The first admin's password, used once when the state database has no user; unset: a "
        "random one, printed once on the console.",
    ),
    Setting(
        "SESSION_HOURS",
        12.0,
        float,
        "Hours a sign-in lasts without a request; each request starts the time again.",
    ),
    Setting(
        "AUTH_HEADER",
        "",
        str,
        "Trust this request header (X-Forwarded-User from oauth2-proxy, say) as the signed-in "
        "user's name. Only safe behind a proxy that sets it and strips it from clients.",
    ),
    Setting(
        "AUTH_DEFAULT_ROLE",
        "viewer",
        str,
        "Role of a user first seen through AUTH_HEADER (they see nothing until granted).",
    ),
    Setting(
        "REDIS_URL",
        "",
        str,
        "Redis for what several instances must share at once (failed sign-in counts); unset: "
        "each process counts its own.",
    ),
    Setting(
        "LOGIN_LIMIT_ACCOUNT",
        "10 per 15 minutes",
        str,
        "Failed sign-ins allowed for one account name before it must wait.",
    ),
    Setting(
        "LOGIN_LIMIT_ADDRESS",
        "30 per 15 minutes",
        str,
        "Failed sign-ins allowed from one client address before it must wait.",
    ),
    Setting(
        "PROXIES",
        0,
        int,
        "Reverse proxies in front of the dashboard whose X-Forwarded-For/-Proto/-Host/-Prefix "
        "headers are trusted (Werkzeug's ProxyFix): the client address for sign-in limits, "
        "and HTTPS for the Secure cookie flag.",
    ),
    Setting(
        "AUDIT",
        True,
        _bool,
        "Record every change in the audit log (who, when, the values before and after), in "
        "the state database; off: changes are not recorded and cannot be reverted.",
    ),
    Setting(
        "AUDIT_RETENTION_DAYS",
        0,
        int,
        "Days the audit log keeps entries; 0 keeps them forever. Applied by "
        "`flask audit prune` (run it from cron).",
    ),
    Setting(
        "VALIDATION_ERRORS",
        (),
        lambda text: _references(text),
        "Exception classes a model's validators (@validates) raise for a value they refuse, "
        "as module:Class references separated by spaces or commas (module:Outer.Inner for a "
        "nested class). Such an error, like ValueError and AssertionError, is shown on its "
        "field and nothing is written; any other exception is a bug and answers 500.",
    ),
)


def _hosts(text: str) -> tuple[str, ...]:
    """Parse TRUSTED_HOSTS: names or IP literals ([::1] in brackets), without ports."""
    hosts = tuple(h.strip().lower() for h in re.split(r"[\s,]+", text) if h.strip())
    if not hosts:
        raise ValueError("give at least one host, or '*' to allow any")
    for host in hosts:
        if host != "*" and not re.fullmatch(r"\.?[a-z0-9.-]+|\[[0-9a-f:.]+\]", host):
            raise ValueError(f"{host!r} is not a host name (no scheme, port or path)")
    return hosts


def _base_url(text: str) -> str:
    text = text.strip().rstrip("/")
    if text and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", text):
        raise ValueError(f"expected http(s)://host[:port][/prefix], got {text!r}")
    return text


_REFERENCE_RE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")


def _references(text: str) -> tuple[str, ...]:
    """Parse VALIDATION_ERRORS: ``module:Class`` references, space- or comma-separated."""
    references = _split_references(text)
    for reference in references:
        if not _REFERENCE_RE.fullmatch(reference):
            raise ValueError(
                f"expected module:Class (such as blog.errors:Invalid), got {reference!r}"
            )
    return references


def _split_references(text: str) -> tuple[str, ...]:
    return tuple(r for r in re.split(r"[\s,]+", text.strip()) if r)


SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}
ENV_PREFIX = "ROWBOAT_"


class ConfigError(ValueError):
    """A setting or database definition that cannot be used; raised at start-up."""


def resolve_errors(value: str | Sequence[str | type]) -> tuple[type[Exception], ...]:
    """Import the exception classes VALIDATION_ERRORS names (a setting's text, or a sequence
    of references or classes, as overrides give them); ConfigError names a wrong one."""
    references = _split_references(value) if isinstance(value, str) else tuple(value)
    classes: list[type[Exception]] = []
    for reference in references:
        found: Any = reference
        if isinstance(reference, str):
            if not _REFERENCE_RE.fullmatch(reference):
                raise ConfigError(
                    f"VALIDATION_ERRORS: expected module:Class (such as blog.errors:Invalid, "
                    f"or blog.errors:Errors.Invalid for a nested class), got {reference!r}"
                )
            found = _import_reference(reference)
        if not (isinstance(found, type) and issubclass(found, Exception)):
            raise ConfigError(
                f"VALIDATION_ERRORS: {reference!r} is not an exception class "
                f"(it is {type(found).__name__}); name a subclass of Exception"
            )
        classes.append(found)
    return tuple(classes)


def _import_reference(reference: str) -> Any:
    module_name, _, path = reference.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"VALIDATION_ERRORS: cannot import the module {module_name!r} of {reference!r} "
            f"({exc}); write module:Class, the module as you would import it"
        ) from None
    for depth, name in enumerate(path.split(".")):
        if not hasattr(found, name):
            where = ".".join(path.split(".")[:depth]) or module_name
            raise ConfigError(
                f"VALIDATION_ERRORS: {where!r} has no attribute {name!r} (in {reference!r}); "
                "write module:Class, or module:Outer.Inner for a nested class"
            )
        found = getattr(found, name)
    return found


@dataclass(frozen=True)
class DatabaseConfig:
    """One configured database: a name for URLs, an SQLAlchemy URL and optional user models."""

    name: str
    url: str
    # "module:attr.path" or "path/file.py:attr" (catalog.sources), the models object itself
    # (an application embedding Rowboat), or None to reflect the schema
    models: Any = None
    read_only: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)


_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_databases(text: str) -> dict[str, str]:
    """Parse ROWBOAT_DATABASES: ``name=url`` pairs separated by whitespace or semicolons."""
    result: dict[str, str] = {}
    for item in re.split(r"[\s;]+", text.strip()):
        if not item:
            continue
        name, sep, url = item.partition("=")
        if not sep or not url:
            raise ConfigError(f"ROWBOAT_DATABASES: expected name=URL, got {item!r}")
        _check_name(name)
        if name in result:
            raise ConfigError(f"ROWBOAT_DATABASES: {name!r} is defined twice")
        result[name] = url
    return result


def parse_models(text: str, names: list[str]) -> dict[str, str]:
    """Parse ROWBOAT_MODELS: ``module:Base`` for one database, or ``name=module:Base`` pairs."""
    result: dict[str, str] = {}
    for item in re.split(r"[\s;]+", text.strip()):
        if not item:
            continue
        name, sep, path = item.partition("=")
        if not sep:
            if len(names) != 1:
                raise ConfigError("ROWBOAT_MODELS: with several databases, write name=module:Base")
            name, path = names[0], item
        if name not in names:
            raise ConfigError(f"ROWBOAT_MODELS: no database is called {name!r}")
        if ":" not in path:
            raise ConfigError(
                "ROWBOAT_MODELS: expected module:attribute (e.g. blog.models:db.Model) or "
                f"path/to/models.py:attribute, got {path!r}"
            )
        result[name] = path
    return result


def _check_name(name: str) -> None:
    if not _NAME_RE.match(name):
        raise ConfigError(f"database name {name!r} may only hold letters, digits, '_' and '-'")


def _name_from_url(url: str) -> str:
    """Name a database configured through DATABASE_URL after the database or file it points to."""
    tail = url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    tail = tail.rsplit(".", 1)[0] if url.startswith("sqlite") else tail
    name = re.sub(r"[^A-Za-z0-9_-]", "_", tail) or "db"
    return name


def load_config(
    env: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Build the app config: defaults, then ``ROWBOAT_*`` variables, then ``overrides``.

    ``DATABASES`` ends up as a dict of name -> DatabaseConfig. With nothing configured it is
    empty and the app factory serves the demo database instead.
    """
    config: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    for setting in SETTINGS:
        raw = env.get(ENV_PREFIX + setting.name)
        if raw is not None:
            try:
                config[setting.name] = setting.parse(raw)
            except ValueError as exc:
                raise ConfigError(f"{ENV_PREFIX}{setting.name}: {exc}") from exc

    urls: dict[str, str] = {}
    if env.get("ROWBOAT_DATABASES"):
        urls.update(parse_databases(env["ROWBOAT_DATABASES"]))
    if env.get("DATABASE_URL"):
        name = _name_from_url(env["DATABASE_URL"])
        urls.setdefault(name, env["DATABASE_URL"])
    models = parse_models(env.get("ROWBOAT_MODELS", ""), list(urls))
    databases = {
        name: DatabaseConfig(name=name, url=url, models=models.get(name))
        for name, url in urls.items()
    }

    config["SECRET_KEY"] = env.get("ROWBOAT_SECRET_KEY") or env.get("SECRET_KEY")
    config["DATABASES"] = databases
    for key, value in (overrides or {}).items():
        if key != "DATABASES" and key not in config and not key.isupper():
            raise ConfigError(f"unknown setting {key!r}")
        config[key] = value
    config["DATABASES"] = _normalise_databases(config["DATABASES"])
    if not config["SECRET_KEY"]:
        # A random key per process: sessions and CSRF tokens do not survive a restart, and
        # several gunicorn workers need ROWBOAT_SECRET_KEY set to share them. Never a fixed default.
        config["SECRET_KEY"] = secrets.token_hex(32)
        config["SECRET_KEY_RANDOM"] = True  # create_app replaces it with the state database's
    for setting in SETTINGS:
        if setting.parse is int and (
            not isinstance(config[setting.name], int) or config[setting.name] < 0
        ):
            raise ConfigError(f"{setting.name} must be a non-negative whole number")
    if config["PAGE_SIZE"] < 1 or config["MAX_PAGE_SIZE"] < config["PAGE_SIZE"]:
        raise ConfigError("PAGE_SIZE must be at least 1 and at most MAX_PAGE_SIZE")
    return config


def _normalise_databases(value: Any) -> dict[str, DatabaseConfig]:
    """Accept DatabaseConfig objects, plain URLs or dicts in overrides (tests use all three)."""
    result: dict[str, DatabaseConfig] = {}
    for name, item in dict(value).items():
        _check_name(name)
        if isinstance(item, DatabaseConfig):
            result[name] = item
        elif isinstance(item, str):
            result[name] = DatabaseConfig(name=name, url=item)
        else:
            result[name] = DatabaseConfig(name=name, **item)
    return result
