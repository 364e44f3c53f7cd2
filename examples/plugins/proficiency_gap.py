"""Example metric family: the math–reading gap of every district (districtbench plugin).

gap = math_proficiency_pct − read_proficiency_pct, both of its state's latest assessment year
(the values `latest` computed in this run), exactly (no float rounding on SQLite). Stored in a
table of the plugin's own, districtbench_proficiency_gap (leaid, year, gap), rewritten whole by
each `compute`; the table comes from its migration branch, proficiency_gap_migrations/, which
`districtbench migrate` runs. A district without both values has no row.
"""

from pathlib import Path

from districtbench.plugin_api import FamilyOutcome, MetricFamily, PluginMigrations, hookimpl, own_table, sa

GAP = own_table(
    "districtbench_proficiency_gap",
    sa.Column("leaid", sa.String(7), primary_key=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("gap", sa.Numeric(6, 2), nullable=False),
)


def compute(ctx) -> FamilyOutcome:
    d = ctx.districts("math_proficiency_pct", "read_proficiency_pct", "assessment_data_year")
    gap = ctx.difference(d.c.math_proficiency_pct, d.c.read_proficiency_pct)
    rows = sa.select(d.c.leaid, d.c.assessment_data_year, gap).where(
        d.c.math_proficiency_pct.is_not(None), d.c.read_proficiency_pct.is_not(None)
    )
    ctx.connection.execute(GAP.delete())
    written = ctx.connection.execute(GAP.insert().from_select(["leaid", "year", "gap"], rows)).rowcount
    return FamilyOutcome(districts_updated=written)


FAMILY = MetricFamily(
    name="proficiency_gap",
    runs_after=("latest",),
    columns=("districtbench_proficiency_gap.gap",),
    description="Each district's math minus reading proficiency (points), of its state's latest year.",
    compute=compute,
)


@hookimpl
def register_metric_families(register):
    register(FAMILY)


@hookimpl
def register_migrations(register):
    register(PluginMigrations("proficiency_gap", Path(__file__).with_name("proficiency_gap_migrations")))
