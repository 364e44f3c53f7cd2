"""What a family gets from the runner: the open transaction, the time of the run, exact
arithmetic for the dialect, temporary staging tables that are dropped at the end, the
district values of this run so far, and the two ways to write results:

    changed, nulled = ctx.write_districts(stage, outputs)   # key: stage.c.leaid
    changed, nulled = ctx.write_states(stage, outputs)      # key: stage.c.fips

(`metrics.apply`: rounding to each column's scale, NULL-and-count for what does not fit, only
changed rows written, a shortfall is an error). `write_states` updates `states` at once.
`write_districts` says so in its name: the values wait in the family's staging table and all
families' land in ONE `UPDATE districts` at the end of the run (`flush`). Rewriting every row
of `districts` once per family cost ~0.3 s each at national scale on PostgreSQL (a new
version of each row and of its index entries, every time). A family reads district columns
from `ctx.districts(*columns)`, which shows the values earlier families of the run have
computed, at no cost; and a statement that reads a waiting column of `districts` any other
way (`ctx.tables.districts`, `db.tables.districts`, text SQL naming the table) first makes
the context write what waits — so no family can read a stale value by accident. Each family
counts the rows its values change when it writes them (one join of `districts` with its
stage), noting their leaids; `flush` checks that the UPDATE wrote exactly the rows any
family changes.

Exact arithmetic for plugin SQL: `ctx.rounded(numerator, denominator, scale)` and
`ctx.difference(left, right)` over NUMERIC/INTEGER expressions (scales read from their SQL
types), the same exact forms the built-in families use (`metrics.arith`), on both databases.

Statements against the app's tables are built from `ctx.tables` (`db.layout`): Tables keyed
by the logical names of `db.tables` that render the database's own column names. Types,
scales and ranges are read from `db.tables`.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import ClauseElement, Executable

from districtbench.db import layout
from districtbench.errors import WriteShortfallError
from districtbench.metrics import apply
from districtbench.metrics.arith import Arith, lit, times, type_scale
from districtbench.metrics.measures import Measures, built_in

STAGE_PREFIX = "districtbench_stage_"
WORK_MEM_KB = 64 * 1024


class CreateTempTableAs(Executable, ClauseElement):
    """CREATE TEMPORARY TABLE <name> AS <select> (SQLAlchemy 2.0 has no construct for it)."""

    inherit_cache = False

    def __init__(self, name: str, query: sa.Select):
        self.name = name
        self.query = query


@compiles(CreateTempTableAs)
def _create_temp_table_as(element: CreateTempTableAs, compiler, **kw) -> str:
    return f"CREATE TEMPORARY TABLE {element.name} AS {compiler.process(element.query, **kw)}"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class PendingWrite:
    """Values for `districts` columns (expressions over `stage`, which holds one row per
    district, joined on `stage.c[key] = districts.leaid`), computed by `family`; they change
    `changed_rows` rows."""

    stage: sa.Table
    key: str
    values: dict[str, ColumnElement]
    family: str
    changed_rows: int


@dataclass
class RunContext:
    connection: Connection
    now: datetime
    family: str | None = None  # the family running now (set by the runner)
    # Options of the invocation a family may read (`compute --peer-scope`: "peer_scope").
    options: dict[str, str] = field(default_factory=dict)
    # Which history sources provide which measures (the registered sources' declarations).
    measures: Measures = field(default_factory=built_in)
    arith: Arith = field(init=False)
    tables: layout.Layout = field(init=False)
    _stages: dict[str, sa.Table] = field(default_factory=dict, init=False)
    _memo: dict[str, object] = field(default_factory=dict, init=False)
    _pending: list[PendingWrite] = field(default_factory=list, init=False)
    _writing: bool = field(default=False, init=False)  # the context's own statements: no flush

    def __post_init__(self) -> None:
        self.arith = Arith(self.connection.dialect.name)
        self.tables = layout.of(self.connection)
        sa.event.listen(self.connection, "before_execute", self._flush_before_stale_read)
        if self.arith.postgresql:
            # Sorts and hashes of a few hundred thousand rows in memory, for this transaction only.
            kb = self.connection.execute(sa.text("SELECT setting::bigint FROM pg_settings WHERE name = 'work_mem'"))
            if (kb.scalar() or 0) < WORK_MEM_KB:
                self.connection.execute(sa.text(f"SET LOCAL work_mem = '{WORK_MEM_KB}kB'"))
            # JIT-compiling these wide expressions costs seconds, and it kicks in whenever the
            # row estimates are high (e.g. stale statistics right after a big backfill).
            self.connection.execute(sa.text("SET LOCAL jit = off"))

    @property
    def temp_schema(self) -> str:
        return "pg_temp" if self.arith.postgresql else "temp"

    def stage(self, name: str, *columns: sa.Column) -> sa.Table:
        """A fresh temporary table (private to this connection) for intermediate results.
        Its primary key is kept on SQLite (which would otherwise index the table on every
        join), as the table's own order (WITHOUT ROWID: a join looks a row up in one B-tree,
        not in the key's index and then the table — compute all ~10-20 % faster at national
        scale); PostgreSQL hash-joins these tables, and maintaining the index would only slow
        their filling."""
        self.drop_stage(name)
        options = {}
        if self.arith.postgresql:
            columns = tuple(sa.Column(c.name, c.type, nullable=c.nullable) for c in columns)
        elif any(c.primary_key for c in columns):
            options["sqlite_with_rowid"] = False
        table = sa.Table(
            STAGE_PREFIX + name, sa.MetaData(), *columns, schema=self.temp_schema, prefixes=["TEMPORARY"], **options
        )
        table.create(self.connection)
        self._stages[name] = table
        return table

    def stage_as(self, name: str, query: sa.Select, *, key: tuple[str, ...]) -> sa.Table:
        """A fresh temporary table holding the rows of `query` (its columns named as the
        query's labels). PostgreSQL: CREATE TEMPORARY TABLE … AS, which (unlike INSERT …
        SELECT) may use a parallel plan. SQLite: a table with `key` as primary key, filled by
        INSERT … SELECT (SQLite would otherwise index it on every join)."""
        columns = [sa.Column(c.name, c.type, primary_key=c.name in key) for c in query.selected_columns]
        if not self.arith.postgresql:
            stage = self.stage(name, *columns)
            self.fill(stage, query)
            return stage
        self.drop_stage(name)
        stage = sa.Table(STAGE_PREFIX + name, sa.MetaData(), *columns, schema=self.temp_schema)
        self.connection.execute(CreateTempTableAs(f"{self.temp_schema}.{stage.name}", query))
        self._stages[name] = stage
        self._count_rows(stage, key[0])
        return stage

    def fill(self, stage: sa.Table, query: sa.Select) -> None:
        """INSERT the rows of `query` (columns in the stage's order) into `stage`."""
        self.connection.execute(stage.insert().from_select(list(stage.c.keys()), query))
        if self.arith.postgresql:
            self._count_rows(stage, next(iter(stage.c.keys())))

    def _count_rows(self, stage: sa.Table, column: str) -> None:
        """PostgreSQL: let the planner know how many rows a filled stage holds. Autovacuum
        never sees temporary tables, and without statistics PostgreSQL guesses from the
        file's size and the columns' widths — 3 to 5 times too few rows here — and then
        hashes the wide side of a join, or loops over the whole history. ANALYZE of one
        column at the smallest sample (300 rows) is enough for that, ~1 ms."""
        qualified = f'{self.temp_schema}.{stage.name}'
        self.connection.execute(sa.text(f"ALTER TABLE {qualified} ALTER COLUMN {_quoted(column)} SET STATISTICS 1"))
        self.connection.execute(sa.text(f"ANALYZE {qualified} ({_quoted(column)})"))

    def drop_stage(self, name: str) -> None:
        # Schema-qualified, so it can only ever drop a temporary table.
        self.connection.execute(sa.text(f"DROP TABLE IF EXISTS {self.temp_schema}.{STAGE_PREFIX}{name}"))
        self._stages.pop(name, None)

    def analyze(self, *table_names: str, only_if_stale: bool = False) -> None:
        """PostgreSQL: refresh planner statistics of our tables, inside the transaction (it sees
        this run's own changes). Stale statistics — a table just filled by a backfill — make
        the planner sort where it should hash, or loop over the whole history. With
        `only_if_stale`, only tables never analyzed or whose number of rows has changed by
        more than 10 % since (rows only updated do not count: our statements join on keys,
        and this run's own writes would otherwise make every next run re-analyze
        `districts`, ~0.4 s at national scale). A user who does not own a table gets a
        warning from PostgreSQL, not an error."""
        if not self.arith.postgresql:
            return
        names = list(table_names)
        if only_if_stale:
            stale = sa.text(
                "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
                "WHERE s.relid = ANY(CAST(:oids AS oid[])) "
                "AND (c.reltuples < 0 OR abs(s.n_live_tup - c.reltuples) > 50 + 0.1 * c.reltuples)"
            )
            oids = "{" + ",".join(str(self._oid(name)) for name in names) + "}"
            names = list(self.connection.execute(stale, {"oids": oids}).scalars())
        for name in names:
            self.connection.execute(sa.text(f"ANALYZE {_quoted(name)}"))

    def _oid(self, name: str) -> int:
        return self.connection.execute(sa.text("SELECT CAST(to_regclass(:name) AS oid)"), {"name": name}).scalar() or 0

    @contextmanager
    def settings(self, **values: str) -> Iterator[None]:
        """PostgreSQL: run-time settings for the statements inside the block only (restored
        after it; SET LOCAL, so gone with the transaction in any case). SQLite: nothing."""
        if not self.arith.postgresql:
            yield
            return
        set_local = sa.text("SELECT set_config(:name, :value, true)")
        previous = {name: self.connection.execute(sa.text("SELECT current_setting(:name)"), {"name": name}).scalar()
                    for name in values}
        for name, value in values.items():
            self.connection.execute(set_local, {"name": name, "value": value})
        yield  # on an error the transaction is rolled back, and the settings with it
        for name, value in previous.items():
            self.connection.execute(set_local, {"name": name, "value": value})

    # --- writing results ----------------------------------------------------------------

    def write_districts(self, stage: sa.Table, outputs, key: str = "leaid") -> tuple[int, dict[str, int]]:
        """Write `outputs` (`Output`s over `stage`, one row per district, `stage.c[key]` =
        leaid) onto `districts` at the end of the run (module doc); returns (rows whose values
        change, values NULLed per column)."""
        return apply.write(self, self.tables.districts, key, stage, outputs, deferred=True)

    def write_states(self, stage, outputs, key: str = "fips", *, extra_values=None,
                     also_when: ColumnElement | None = None) -> tuple[int, dict[str, int]]:
        """Write `outputs` onto `states` now (`stage.c[key]` = fips); `extra_values` are set
        on the rows written, `also_when` writes the rows it matches even when unchanged."""
        return apply.write(self, self.tables.states, key, stage, outputs, extra_values=extra_values,
                           also_when=also_when)

    # --- exact arithmetic for plugin SQL -------------------------------------------------

    def rounded(self, numerator: ColumnElement, denominator: ColumnElement | None = None,
                scale: int = 2) -> ColumnElement:
        """`numerator / denominator` rounded half away from zero to `scale` decimals, exactly
        on both databases; NULL where either is NULL or the denominator is not > 0. Both are
        NUMERIC(p,s) or INTEGER expressions (cast a computed one: `sa.cast(x, sa.Numeric(12, 2))`).
        Without a denominator: the numerator rounded."""
        n_scale = type_scale(numerator)
        num = self.arith.exact(numerator, n_scale)
        if denominator is None:
            return self.arith.rounded(num, self.arith.unit(n_scale), scale)
        d_scale = type_scale(denominator)
        num = times(num, self.arith.unit(d_scale))
        den = times(self.arith.exact(denominator, d_scale), self.arith.unit(n_scale))
        return sa.case((denominator > lit(0), self.arith.rounded(num, den, scale)), else_=sa.null())

    def difference(self, left: ColumnElement, right: ColumnElement) -> ColumnElement:
        """`left − right` of two NUMERIC(p,s) or INTEGER expressions, exactly."""
        return self.arith.difference(left, right, max(type_scale(left), type_scale(right)))

    def _flush_before_stale_read(self, connection, statement, *args) -> None:
        """Before a statement that reads a `districts` column whose new value waits, write what
        waits (module doc). The context's own statements are exempt."""
        if not self._pending or self._writing:
            return
        waiting = {name for write in self._pending for name in write.values}
        if _reads(statement, self.tables.districts.name, waiting):
            self.flush()

    def defer(self, stage: sa.Table, key: str, values: dict[str, ColumnElement]) -> int:
        """Set `districts` columns to `values` at the end of the run (module doc), on behalf of
        the family running now; returns the number of rows that changes. Their leaids are
        noted (`flush` needs how many rows any family changes)."""
        d = self.tables.districts
        if "changed" not in self._stages:
            self.stage("changed", sa.Column("leaid", sa.String(7), nullable=False))
        changes = sa.or_(*[d.c[column].is_distinct_from(value) for column, value in values.items()])
        noted = sa.select(d.c.leaid).select_from(stage.join(d, d.c.leaid == stage.c[key])).where(changes)
        with self._own_statements():
            changed_rows = self.connection.execute(
                self._stages["changed"].insert().from_select(["leaid"], noted)
            ).rowcount
        self._pending.append(PendingWrite(stage, key, dict(values), self.family or "?", changed_rows))
        return changed_rows

    def districts(self, *columns: str) -> sa.FromClause:
        """`districts` with the values this run has computed so far (same column names):
        `leaid`, `state_fips` and the named `columns` (all columns if none are named). Use
        it, not `ctx.tables.districts`, to read district columns; types and ranges come from
        `db.tables.districts`. Only the staging tables holding named columns are joined (on
        PostgreSQL they have no unique key, so the planner could not drop an unused one)."""
        d = self.tables.districts
        names = list(dict.fromkeys(["leaid", "state_fips", *columns])) if columns else list(d.c.keys())
        writes = [write for write in self._pending if any(name in write.values for name in names)]
        if not writes:
            return d
        joined: sa.FromClause = d
        replaced: dict[str, ColumnElement] = {}
        for write in writes:
            joined = joined.outerjoin(write.stage, write.stage.c[write.key] == d.c.leaid)
            replaced.update(write.values)
        # labelled with the logical names (a column of `d` is named as the app names it)
        selected = [replaced[name].label(name) if name in replaced else d.c[name].label(name) for name in names]
        return sa.select(*selected).select_from(joined).subquery("current_districts")

    @contextmanager
    def _own_statements(self) -> Iterator[None]:
        self._writing = True
        try:
            yield
        finally:
            self._writing = False

    def flush(self) -> int:
        """Write the deferred values: one UPDATE of the rows where any of them changes (with
        `updated_at`), skipped when no family changed any. Returns the number of rows
        written; raises WriteShortfallError when the database wrote fewer rows than the
        families changed (the caller rolls the transaction back). The runner calls it at the
        end of the run; a statement reading a waiting column calls it before (module doc)."""
        with self._own_statements():
            return self._flush()

    def _flush(self) -> int:
        pending, self._pending = self._pending, []
        changing = [write for write in pending if write.changed_rows]
        if not changing:
            return 0
        if len(changing) == 1:
            meant = changing[0].changed_rows
        else:
            noted = self._stages["changed"].c.leaid
            meant = self.connection.execute(sa.select(sa.func.count(sa.distinct(noted)))).scalar_one()
        d = self.tables.districts
        joins = [write.stage.c[write.key] == d.c.leaid for write in pending]
        values = {column: value for write in pending for column, value in write.values.items()}
        changed = sa.or_(*[d.c[column].is_distinct_from(value) for column, value in values.items()])
        stamps = self.tables.stamps("districts", self.now, insert=False)
        statement = sa.update(d).where(*joins).where(changed).values({**values, **stamps})
        written = self.connection.execute(statement).rowcount
        if written != meant:
            families = list(dict.fromkeys(write.family for write in changing))
            raise WriteShortfallError(d.name, meant, written, families)
        self.connection.execute(self._stages["changed"].delete())  # a later flush counts its own
        return written

    def memo(self, key: str, build: Callable[[], object]) -> object:
        """Something computed once per run and shared by families (e.g. the source years)."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def cleanup(self) -> None:
        sa.event.remove(self.connection, "before_execute", self._flush_before_stale_read)
        for name in list(self._stages):
            self.drop_stage(name)
        self._memo.clear()


def _reads(statement: object, table_name: str, columns: set[str]) -> bool:
    """Whether a statement reads one of `columns` of the table `table_name` (text SQL: whether
    it names the table at all)."""
    if isinstance(statement, sa.TextClause):
        return table_name in statement.text
    if not isinstance(statement, ClauseElement):
        return False
    for element in sa.sql.visitors.iterate(statement):
        if not isinstance(element, sa.Column) or (element.key not in columns and element.name not in columns):
            continue
        table = getattr(element, "table", None)
        table = getattr(table, "element", table) if isinstance(table, sa.Alias) else table  # an alias of it
        if isinstance(table, sa.Table) and table.name == table_name:
            return True
    return False
