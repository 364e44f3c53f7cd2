"""base: the five tables without the benchmark columns (create, or adopt the app's tables)

On a fresh database this creates states, districts, district_data_history, data_refresh_logs
and districtbench_fetch_units. On an application database that already has some of them, it
creates only the missing tables and, on the app's tables, only the missing columns — nullable,
without a default, under the app's name where the app renamed one (adoption.py) — never an
index, key or constraint there. It never drops, renames or retypes what exists. Everything it
creates is recorded in districtbench_created_objects; the downgrade drops exactly that, then
the bookkeeping table. districtbench's own tables go into its own schema.

The column lists are written out here (not taken from districtbench.db.tables) so this
revision stays what it is when the models change later.

Revision ID: 0001_base
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from districtbench.db import adoption
from districtbench.db.adoption import TableSpec

revision = "0001_base"
down_revision = None
branch_labels = None
depends_on = None

TIMESTAMP = postgresql.TIMESTAMP(precision=3)  # TIMESTAMP(3) on PostgreSQL, TIMESTAMP on SQLite
NOW = sa.text("CURRENT_TIMESTAMP")
ZERO = sa.text("0")


def _col(name: str, type_, nullable: bool = True, default=None) -> sa.Column:
    return sa.Column(name, type_, nullable=nullable, server_default=default)


def _decimals(precision: int, scale: int, *names: str) -> list[sa.Column]:
    return [_col(name, sa.Numeric(precision, scale)) for name in names]


def _integers(*names: str) -> list[sa.Column]:
    return [_col(name, sa.Integer()) for name in names]


def _states() -> TableSpec:
    return TableSpec(
        "states",
        [
            _col("fips", sa.String(2), False),
            _col("abbrev", sa.String(2), False),
            _col("name", sa.String(100), False),
            _col("total_districts", sa.Integer(), False, ZERO),
            _col("total_enrollment", sa.Integer()),
            _col("avg_expenditure_per_pupil", sa.Numeric(12, 2)),
            *_decimals(5, 2, "avg_graduation_rate", "avg_poverty_rate"),
            _col("aggregates_updated_at", TIMESTAMP),
            _col("created_at", TIMESTAMP, False, NOW),
            _col("updated_at", TIMESTAMP, False),
        ],
        primary_key=("fips",),
        uniques={"states_abbrev_key": ("abbrev",)},
    )


def _districts() -> TableSpec:
    return TableSpec(
        "districts",
        [
            _col("leaid", sa.String(7), False),
            _col("name", sa.String(255), False),
            _col("state_fips", sa.String(2), False),
            _col("state_abbrev", sa.String(2)),
            _col("city_location", sa.String(100)),
            _col("county_name", sa.String(100)),
            *_integers("urban_centric_locale", "number_of_schools", "enrollment",
                       "urban_institute_year", "spec_ed_students", "ell_students"),
            *_decimals(10, 2, "teachers_fte", "staff_total_fte"),
            _col("staff_data_year", sa.Integer()),
            _col("total_expenditure", sa.Numeric(15, 2)),
            _col("expenditure_per_pupil", sa.Numeric(12, 2)),
            _col("finance_data_year", sa.Integer()),
            _col("children_poverty_percent", sa.Numeric(5, 2)),
            _col("saipe_data_year", sa.Integer()),
            _col("graduation_rate_total", sa.Numeric(5, 2)),
            _col("graduation_data_year", sa.Integer()),
            _col("chronic_absenteeism_rate", sa.Numeric(5, 2)),
            _col("absenteeism_data_year", sa.Integer()),
            *_decimals(5, 2, "math_proficiency_pct", "read_proficiency_pct"),
            _col("assessment_data_year", sa.Integer()),
            *_decimals(8, 2, "student_teacher_ratio", "enrollment_trend_3yr",
                       "staffing_trend_3yr", "vacancy_pressure_signal"),
            _col("created_at", TIMESTAMP, False, NOW),
            _col("updated_at", TIMESTAMP, False),
        ],
        primary_key=("leaid",),
        foreign_keys={"districts_state_fips_fkey": ("state_fips", "states.fips")},
        indexes={
            "districts_state_fips_idx": ("state_fips",),
            "districts_state_abbrev_idx": ("state_abbrev",),
        },
    )


def _history() -> TableSpec:
    return TableSpec(
        "district_data_history",
        [
            _col("id", sa.Integer(), False),
            _col("leaid", sa.String(7), False),
            _col("year", sa.Integer(), False),
            _col("source", sa.String(30), False),
            _col("enrollment", sa.Integer()),
            *_decimals(10, 2, "teachers_fte", "staff_total_fte"),
            _col("spec_ed_students", sa.Integer()),
            *_decimals(15, 2, "total_revenue", "total_expenditure", "federal_revenue",
                       "state_revenue", "local_revenue", "sped_expenditure"),
            _col("expenditure_pp", sa.Numeric(12, 2)),
            *_decimals(5, 2, "poverty_pct", "graduation_rate", "math_proficiency", "read_proficiency"),
            _col("created_at", TIMESTAMP, False, NOW),
        ],
        primary_key=("id",),
        foreign_keys={"district_data_history_leaid_fkey": ("leaid", "districts.leaid")},
        uniques={"district_data_history_leaid_year_source_key": ("leaid", "year", "source")},
        indexes={
            "district_data_history_leaid_idx": ("leaid",),
            "district_data_history_year_idx": ("year",),
            "district_data_history_source_idx": ("source",),
        },
    )


def _refresh_logs() -> TableSpec:
    return TableSpec(
        "data_refresh_logs",
        [
            _col("id", sa.Integer(), False),
            _col("data_source", sa.String(50), False),
            _col("data_year", sa.Integer()),
            _col("records_updated", sa.Integer(), False),
            _col("records_failed", sa.Integer(), False, ZERO),
            _col("status", sa.String(20), False),
            _col("error_message", sa.Text()),
            _col("started_at", TIMESTAMP, False),
            _col("completed_at", TIMESTAMP, False, NOW),
        ],
        primary_key=("id",),
        indexes={"data_refresh_logs_data_source_completed_at_idx": ("data_source", "completed_at")},
    )


def _fetch_units() -> TableSpec:
    return TableSpec(
        "districtbench_fetch_units",
        [
            _col("source", sa.String(30), False),
            sa.Column("year", sa.Integer(), nullable=False, autoincrement=False),
            _col("state_fips", sa.String(2), False),
            _col("status", sa.String(20), False),
            _col("rows_written", sa.Integer(), False, ZERO),
            _col("rows_skipped", sa.Integer(), False, ZERO),
            _col("error_message", sa.Text()),
            _col("fetched_at", TIMESTAMP, False),
        ],
        primary_key=("source", "year", "state_fips"),
    )


def upgrade() -> None:
    adoption.create_bookkeeping()
    for spec in (_states(), _districts(), _history(), _refresh_logs(), _fetch_units()):
        adoption.ensure_table(revision, spec)


def downgrade() -> None:
    adoption.undo(revision)
    adoption.drop_bookkeeping()
