"""Database URLs: which backend a URL names, where it points, and how to show it without its password.

`sqlite:///ABSOLUTE/PATH` or `sqlite:RELATIVE/PATH` is a SQLite file;
`postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?libpq options]` (or `postgres://`)
is a PostgreSQL database. Nothing here connects to anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from calma.store.base import StoreError

USAGE = "use sqlite:///ABSOLUTE/PATH, sqlite:RELATIVE/PATH or postgresql://USER@HOST:PORT/DB"


class DatabaseUrlError(StoreError, ValueError):
    """The database URL cannot be used; the message says why (never with the password)."""


@dataclass(frozen=True)
class DatabaseUrl:
    backend: str  # "sqlite" or "postgresql"
    url: str  # as given: may hold a password, so never log it; use `display`
    sqlite_path: Path | None = None

    @property
    def display(self) -> str:
        """The URL with its password replaced by ***: fit for logs and messages."""
        return redact_url(self.url)

    @property
    def location(self) -> str:
        """Where it points: the SQLite file, or HOST:PORT/DB for PostgreSQL."""
        if self.sqlite_path is not None:
            return str(self.sqlite_path)
        return postgres_location(self.url)

    @property
    def password(self) -> str | None:
        return None if self.backend == "sqlite" else _postgres_params(self.url).get("password") or None


def parse_database_url(url: str) -> DatabaseUrl:
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise DatabaseUrlError(f"bad database URL {redact_url(url)!r}: {exc}; {USAGE}") from None
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc or not path:
            raise DatabaseUrlError(f"bad SQLite URL {url!r}: {USAGE}")
        if path.startswith("//"):  # sqlite:////abs/path (SQLAlchemy's spelling of an absolute path)
            path = "/" + path.lstrip("/")
        return DatabaseUrl("sqlite", url, Path(path))
    if scheme in ("postgresql", "postgres"):
        _postgres_params(url)  # raises if libpq would not understand it
        if "," not in parts.netloc:  # one host (libpq also takes host1:port1,host2:port2)
            try:
                parts.port  # noqa: B018  (the property checks the port)
            except ValueError as exc:
                raise DatabaseUrlError(f"bad PostgreSQL URL {redact_url(url)!r}: {exc}") from None
        return DatabaseUrl("postgresql", url)
    shown = redact_url(url)
    raise DatabaseUrlError(f"unsupported database URL {shown!r}: {USAGE}")


def redact_url(url: str) -> str:
    """The URL with any password (in the authority or a `password=` option) replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hosts}"
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def postgres_location(url: str) -> str:
    """HOST:PORT/DB as libpq reads the URL (its defaults: the local socket, 5432, the user's name)."""
    try:
        params = _postgres_params(url)
    except DatabaseUrlError:
        return redact_url(url)
    host = params.get("host") or params.get("hostaddr") or "local socket"
    port = params.get("port") or "5432"
    dbname = params.get("dbname") or params.get("user") or "?"
    return f"{host}:{port}/{dbname}"


def scrub(message: str, secret: str | None) -> str:
    """`message` on one line, with `secret` (a password) replaced by *** wherever it appears."""
    message = " ".join(message.split())
    if secret:
        message = message.replace(secret, "***")
    return message


def _postgres_params(url: str) -> dict[str, str]:
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        return {key: str(value) for key, value in conninfo_to_dict(url).items() if value is not None}
    except ProgrammingError as exc:
        params = _postgres_params_unchecked(url)
        message = scrub(str(exc), params.get("password"))
        raise DatabaseUrlError(f"bad PostgreSQL URL {redact_url(url)!r}: {message}") from None


def _postgres_params_unchecked(url: str) -> dict[str, str]:
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    return {"password": unquote(password)} if password else {}
