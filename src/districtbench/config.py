"""Where districtbench finds its database and the API, and how URLs are cleaned and masked."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from districtbench.errors import ConfigurationError

DEFAULT_DATABASE_URL = "sqlite:///districtbench.db"
DEFAULT_API_URL = "https://educationdata.urban.org/api/v1"
DATABASE_URL_VARIABLES = ("DISTRICTBENCH_DATABASE_URL", "DIRECT_URL", "DATABASE_URL")
API_URL_VARIABLE = "DISTRICTBENCH_API_URL"

# Query parameters Prisma/Supabase put in URLs that libpq rejects.
PRISMA_ONLY_PARAMETERS = ("pgbouncer", "connection_limit", "pool_timeout", "schema")


@dataclass(frozen=True)
class Settings:
    database_url: str
    api_url: str
    debug: bool = False
    # Where the database URL came from: "option", "env:NAME", ".env:NAME" or "default".
    database_url_origin: str = "default"

    @property
    def masked_database_url(self) -> str:
        return mask_url(self.database_url)


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a .env file: KEY=VALUE lines, optional `export`, quotes, # comments."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, _, value = line.partition("=")
        value = value.strip()
        quoted = re.match(r"^(['\"])(.*?)\1(\s+#.*)?$", value)
        if quoted:
            value = quoted.group(2)
        else:
            value = re.sub(r"\s+#.*$", "", value)
        values[key.strip()] = value
    return values


def _lookup(name: str, environ: dict[str, str], dotenv: dict[str, str]) -> str | None:
    value = environ.get(name) or dotenv.get(name)
    return value.strip() if value and value.strip() else None


def resolve_settings(
    database_url: str | None = None,
    api_url: str | None = None,
    debug: bool = False,
    *,
    environ: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Apply cli.md's order: option, DISTRICTBENCH_DATABASE_URL, DIRECT_URL, DATABASE_URL
    (environment first, then ./.env), then the SQLite default."""
    environ = dict(os.environ if environ is None else environ)
    dotenv = read_dotenv((cwd or Path.cwd()) / ".env")
    url = database_url
    origin = "option" if url else "default"
    if not url:
        for name in DATABASE_URL_VARIABLES:
            url = _lookup(name, environ, dotenv)
            if url:
                origin = f"env:{name}" if environ.get(name, "").strip() else f".env:{name}"
                break
    api = api_url or _lookup(API_URL_VARIABLE, environ, dotenv) or DEFAULT_API_URL
    return Settings(
        database_url=normalize_database_url(url or DEFAULT_DATABASE_URL),
        api_url=api.rstrip("/"),
        debug=debug,
        database_url_origin=origin,
    )


def normalize_database_url(url: str) -> str:
    """Turn a URL as apps write it into one SQLAlchemy + psycopg2 accept."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigurationError(
            f"The database URL {mask_url(url)!r} is not a URL.",
            hint="Use postgresql://user:password@host:5432/dbname or sqlite:///path/to/file.db.",
        )
    scheme = scheme.lower()
    if scheme in ("postgres", "postgresql"):
        scheme = "postgresql+psycopg2"
    if scheme.startswith("postgresql"):
        url = _strip_prisma_parameters(f"{scheme}://{rest}")
    else:
        url = f"{scheme}://{rest}"
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise ConfigurationError(
            f"The database URL {mask_url(url)!r} cannot be parsed: {mask_text(str(exc), url)}",
            hint="Use postgresql://user:password@host:5432/dbname or sqlite:///path/to/file.db.",
        ) from None
    if parsed.get_backend_name() not in ("postgresql", "sqlite"):
        raise ConfigurationError(
            f"Unsupported database {parsed.get_backend_name()!r} in {mask_url(url)}.",
            hint="districtbench works with PostgreSQL and SQLite.",
        )
    return url


def _strip_prisma_parameters(url: str) -> str:
    parts = urlsplit(url)
    kept: list[tuple[str, str]] = []
    search_path = None
    options: str | None = None
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "schema":
            search_path = value
        elif key == "options":
            options = value
        elif key not in PRISMA_ONLY_PARAMETERS:
            kept.append((key, value))
    if search_path:
        flag = f"-csearch_path={search_path}"
        options = f"{options} {flag}" if options else flag
    if options:
        kept.append(("options", options))
    return urlunsplit(parts._replace(query=urlencode(kept)))


def database_password(url: str) -> str | None:
    try:
        return make_url(url).password
    except Exception:  # an unparseable URL: fall back to the regex in mask_url
        match = re.match(r"^[^:/]+://[^:/@]*:([^@]*)@", url)
        return match.group(1) if match else None


def mask_url(url: str) -> str:
    """`postgresql://user:***@host/db` — the password never leaves this function."""
    return re.sub(r"^([A-Za-z0-9+.\-]+://[^:/@]*:)[^@]*@", r"\1***@", url)


def mask_text(text: str, *urls: str) -> str:
    """Replace every password of the given URLs (raw and URL-encoded) and any
    user:password@ in URLs found in `text` with ***."""
    for url in urls:
        password = database_password(url)
        if password:
            from urllib.parse import quote

            for form in {password, quote(password, safe=""), quote(password)}:
                if form:
                    text = text.replace(form, "***")
    return re.sub(r"([A-Za-z0-9+.\-]+://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)
