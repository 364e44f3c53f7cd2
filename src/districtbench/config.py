"""Where districtbench finds its database and the API, and how URLs are cleaned and masked."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode

from districtbench.errors import ConfigurationError

DEFAULT_DATABASE_URL = "sqlite:///districtbench.db"
DEFAULT_API_URL = "https://educationdata.urban.org/api/v1"
DATABASE_URL_VARIABLES = ("DISTRICTBENCH_DATABASE_URL", "DIRECT_URL", "DATABASE_URL")
API_URL_VARIABLE = "DISTRICTBENCH_API_URL"
CACHE_DIR_VARIABLE = "DISTRICTBENCH_CACHE_DIR"
LISTING_TIMEOUT_VARIABLE = "DISTRICTBENCH_LISTING_TIMEOUT"
# A folder of plugin modules (each `*.py` file one plugin), loaded without packaging.
PLUGINS_DIR_VARIABLE = "DISTRICTBENCH_PLUGINS_DIR"
# Seconds of the first retry wait (then ×2 each retry); tests and local fake servers set it
# small (0.01). Read from the environment only (not ./.env).
BACKOFF_VARIABLE = "DISTRICTBENCH_BACKOFF_BASE"
DEFAULT_BACKOFF_BASE = 1.0
# One listing (every page, retry and wait) may take at most this long; one request has its
# own 180 s deadline, so one trickling page cannot hold a unit for 6 × 180 s any more.
DEFAULT_LISTING_TIMEOUT = 600.0

# Query parameters Prisma/Supabase put in URLs that libpq rejects.
PRISMA_ONLY_PARAMETERS = ("pgbouncer", "connection_limit", "pool_timeout", "schema")
URL_FORMS = "Use postgresql://user:password@host:5432/dbname or sqlite:///path/to/file.db."
ENCODE_HINT = (
    "Percent-encode these characters in the user name and password: @ → %40, : → %3A, "
    "/ → %2F, ? → %3F, # → %23, % → %25 (the password p@ss is written p%40ss)."
)


@dataclass(frozen=True)
class Settings:
    database_url: str
    api_url: str
    debug: bool = False
    # Where the database URL came from: "option", "env:NAME", ".env:NAME" or "default".
    database_url_origin: str = "default"
    # About the app's database (config_file.py): districtbench's own PostgreSQL schema, the
    # app's column names where they differ, the roster columns a backfill overwrites.
    own_schema: str = "districtbench"
    column_overrides: tuple[tuple[str, str, str], ...] = ()
    roster_columns: tuple[str, ...] | None = None
    config_file: str | None = None
    # Where the API's catalog is cached (one file per API base URL).
    cache_dir: Path = field(default_factory=lambda: default_cache_dir(os.environ))
    # Seconds one listing may take, pages and retries included.
    listing_timeout: float = DEFAULT_LISTING_TIMEOUT
    # A folder of plugin modules ($DISTRICTBENCH_PLUGINS_DIR); None: none.
    plugins_dir: Path | None = None
    # $DISTRICTBENCH_BACKOFF_BASE as written; checked by `backoff_base`, when a command that
    # makes requests reads it (a bad value does not stop `status`).
    backoff_base_text: str = ""

    @property
    def backoff_base(self) -> float:
        return parse_backoff_base(self.backoff_base_text)

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
    from districtbench.config_file import read_database_settings

    database = read_database_settings(environ, cwd or Path.cwd())
    return Settings(
        database_url=normalize_database_url(url or DEFAULT_DATABASE_URL),
        api_url=api.rstrip("/"),
        debug=debug,
        database_url_origin=origin,
        own_schema=database.own_schema,
        column_overrides=database.columns,
        roster_columns=database.roster_columns,
        config_file=database.config_file,
        cache_dir=default_cache_dir(environ, dotenv),
        listing_timeout=_listing_timeout(_lookup(LISTING_TIMEOUT_VARIABLE, environ, dotenv)),
        plugins_dir=plugins_dir(environ, dotenv),
        backoff_base_text=environ.get(BACKOFF_VARIABLE, ""),
    )


def plugins_dir(environ: dict[str, str] | None = None, dotenv: dict[str, str] | None = None) -> Path | None:
    """$DISTRICTBENCH_PLUGINS_DIR (environment, then ./.env), or None. Read before the other
    settings too: the plugins add commands, so they are loaded before the options are parsed."""
    environ = dict(os.environ if environ is None else environ)
    if dotenv is None:
        dotenv = read_dotenv(Path.cwd() / ".env")
    value = _lookup(PLUGINS_DIR_VARIABLE, environ, dotenv)
    return Path(value).expanduser() if value else None


def default_cache_dir(environ: dict[str, str], dotenv: dict[str, str] | None = None) -> Path:
    """$DISTRICTBENCH_CACHE_DIR, else $XDG_CACHE_HOME/districtbench, else ~/.cache/districtbench."""
    dotenv = dotenv or {}
    explicit = _lookup(CACHE_DIR_VARIABLE, environ, dotenv)
    if explicit:
        return Path(explicit).expanduser()
    xdg = _lookup("XDG_CACHE_HOME", environ, {})
    return (Path(xdg) if xdg else Path.home() / ".cache") / "districtbench"


def _listing_timeout(raw: str | None) -> float:
    if raw is None:
        return DEFAULT_LISTING_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 1 <= value <= 86_400:
        raise ConfigurationError(
            f"{LISTING_TIMEOUT_VARIABLE}={raw!r} is not a number of seconds between 1 and 86400.",
            hint=f"Unset it (default {DEFAULT_LISTING_TIMEOUT:g} s) or set e.g. {LISTING_TIMEOUT_VARIABLE}=1800.",
        )
    return value


def parse_backoff_base(raw: str) -> float:
    raw = raw.strip()
    if not raw:
        return DEFAULT_BACKOFF_BASE
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 60:
        raise ConfigurationError(
            f"{BACKOFF_VARIABLE}={raw!r} is not a number of seconds between 0 and 60.",
            hint=f"Unset it (default {DEFAULT_BACKOFF_BASE} s) or set e.g. {BACKOFF_VARIABLE}=0.5.",
        )
    return value


def normalize_database_url(url: str) -> str:
    """Turn a URL as apps write it into one SQLAlchemy + psycopg2 accept."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigurationError(f"The database URL {mask_url(url)!r} is not a URL.", hint=URL_FORMS)
    userinfo, at, location = rest.rpartition("@")
    if "@" in userinfo:
        # which `@` ends the password cannot be known; guessing could send the wrong one
        raise ConfigurationError(
            f"The database URL {mask_url(url)!r} cannot be parsed: it has more than one `@`, "
            "and the `@` in the password (or user name) must be written `%40`.",
            hint=ENCODE_HINT,
        )
    scheme = scheme.lower()
    if scheme in ("postgres", "postgresql"):
        scheme = "postgresql+psycopg2"
    if scheme.startswith("postgresql"):
        # only after the `@`: a `?` or `#` in the password is not the start of a query
        path, _, query = location.partition("?")
        query = _strip_prisma_parameters(query)
        location = f"{path}?{query}" if query else path
    url = f"{scheme}://{userinfo}{at}{location}"
    # SQLAlchemy only here, when a command needs its settings (not for --version or --help)
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise ConfigurationError(
            f"The database URL {mask_url(url)!r} cannot be parsed: {mask_text(str(exc), url)}",
            hint=f"{URL_FORMS} {ENCODE_HINT}",
        ) from None
    if parsed.get_backend_name() not in ("postgresql", "sqlite"):
        raise ConfigurationError(
            f"Unsupported database {parsed.get_backend_name()!r} in {mask_url(url)}.",
            hint="districtbench works with PostgreSQL and SQLite.",
        )
    return url


def _strip_prisma_parameters(query: str) -> str:
    """The query string without Prisma's own parameters; `schema` becomes a search path."""
    kept: list[tuple[str, str]] = []
    search_path = None
    options: str | None = None
    for key, value in parse_qsl(query, keep_blank_values=True):
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
    return urlencode(kept)


# `password=` in a URL's query (libpq accepts it there too)
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#\s'\"]*", re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S+")


def _userinfo_password(url: str) -> str | None:
    """What follows `scheme://user:` up to the LAST `@`, as written (None without one)."""
    _, sep, rest = url.partition("://")
    userinfo, at, _ = rest.rpartition("@")
    user, colon, password = userinfo.partition(":")
    return password if sep and at and colon and "/" not in user else None


def database_passwords(url: str) -> set[str]:
    """Every form in which the URL's password may appear in a message: as written, decoded,
    encoded; also a `password=` query parameter."""
    found = {_userinfo_password(url) or ""}
    found.update(match.group(0).split("=", 1)[1] for match in _QUERY_PASSWORD.finditer(url))
    forms = set()
    for password in filter(None, found):
        decoded = unquote(password)
        forms.update({password, decoded, quote(decoded, safe=""), quote(decoded)})
    return {form for form in forms if form}


def mask_url(url: str) -> str:
    """`postgresql://user:***@host/db`: everything between `scheme://user:` and the last `@`
    is masked (a password holding an unencoded `@`, `/`, `?` or `#` included), and a
    `password=` query parameter. The password never leaves this function."""
    password = _userinfo_password(url)
    if password is not None:
        scheme, _, rest = url.partition("://")
        userinfo, _, location = rest.rpartition("@")
        url = f"{scheme}://{userinfo.partition(':')[0]}:***@{location}"
    return _QUERY_PASSWORD.sub(r"\1***", url)


def mask_text(text: str, *urls: str) -> str:
    """Replace every password of the given URLs (in each form it may take) with ***, and
    mask every URL found in `text` like `mask_url`."""
    for url in urls:
        for form in sorted(database_passwords(url), key=len, reverse=True):
            text = text.replace(form, "***")
    return _URL_IN_TEXT.sub(lambda match: mask_url(match.group(0)), text)
