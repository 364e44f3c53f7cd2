"""`districtbench prisma`: the field lines the app's Prisma schema needs, and `--check`.

The expected Prisma types are written here from db/tables.py's column types with a mapping
of this test's own; the app's schema.prisma is the June 2026 app's, written out below.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from districtbench.db import tables
from districtbench.errors import UsageError
from districtbench.prisma.schema_file import parse
from tests import app_layouts
from tests import expected as ex

# The June 2026 app's schema, before pasting: its own fields; "//<districtbench Model>" marks
# where the app team pastes the lines districtbench prints for that model.
APP_SCHEMA = '''
// This is your Prisma schema file,
// learn more about it in the docs: https://pris.ly/d/prisma-schema

generator client {
  provider = "prisma-client-js"
}

datasource db {
  provider  = "postgresql"
  url       = env("DATABASE_URL")
  directUrl = env("DIRECT_URL") // Supabase: the session connection
}

enum Stage {
  LEAD
  QUALIFIED // worth a call
  WON
}

/// A state or territory (and the US row, fips "00")
model State {
  fips                  String     @id @db.VarChar(2)
  abbrev                String     @unique(map: "states_abbrev_key") @db.VarChar(2)
  name                  String     @db.VarChar(100)
  totalDistricts        Int        @default(0) @map("total_districts")
  totalEnrollment       Int?       @map("total_enrollment")
  avgExpenditurePerPupil Decimal?  @map("avg_expenditure_per_pupil") @db.Decimal(12, 2)
  avgGraduationRate     Decimal?   @map("avg_graduation_rate") @db.Decimal(5, 2)
  avgPovertyRate        Decimal?   @map("avg_poverty_rate") @db.Decimal(5, 2)
  aggregatesUpdatedAt   DateTime?  @map("aggregates_updated_at") @db.Timestamp(3)
  region                String?    @db.VarChar(20)
  createdAt             DateTime   @default(now()) @map("created_at") @db.Timestamp(3)
  updatedAt             DateTime   @updatedAt @map("updated_at") @db.Timestamp(3)
  districts             District[]
  //<districtbench State>

  @@map("states")
}

model District {
  leaid              String   @id @db.VarChar(7)
  name               String   @db.VarChar(255)
  stateFips          String   @map("state_fips") @db.VarChar(2)
  stateAbbrev        String?  @map("state_abbrev") @db.VarChar(2)
  cityLocation       String?  @map("city_location") @db.VarChar(100)
  countyName         String?  @map("county_name") @db.VarChar(100)
  urbanCentricLocale Int?     @map("urban_centric_locale")
  numberOfSchools    Int?     @map("number_of_schools")
  enrollment         Int?
  teachersFte        Decimal? @map("teachers_fte") @db.Decimal(10, 2)
  graduationRate     Decimal? @map("graduation_rate") @db.Decimal(5, 2) // renamed in April 2026
  slug               String?  @db.VarChar(200)
  salesRep           String   @map("sales_rep") @db.VarChar(100)
  notes              String?
  createdAt          DateTime @default(now()) @map("created_at") @db.Timestamp(3)
  updatedAt          DateTime @updatedAt @map("updated_at") @db.Timestamp(3)
  state              State    @relation(fields: [stateFips], references: [fips])
  history            DistrictDataHistory[]
  opportunities      Opportunity[]
  //<districtbench District>

  @@map("districts")
}

model DistrictDataHistory {
  id                   Int      @id @default(autoincrement())
  leaid                String   @db.VarChar(7)
  year                 Int
  source               String   @db.VarChar(30)
  enrollment           Int?
  teachersFte          Decimal? @map("teachers_fte") @db.Decimal(10, 2)
  staffTotalFte        Decimal? @map("staff_total_fte") @db.Decimal(10, 2)
  specEdStudents       Int?     @map("spec_ed_students")
  totalRevenue         Decimal? @map("total_revenue") @db.Decimal(15, 2)
  totalExpenditure     Decimal? @map("total_expenditure") @db.Decimal(15, 2)
  federalRevenue       Decimal? @map("federal_revenue") @db.Decimal(15, 2)
  stateRevenue         Decimal? @map("state_revenue") @db.Decimal(15, 2)
  localRevenue         Decimal? @map("local_revenue") @db.Decimal(15, 2)
  spedExpenditureTotal Decimal? @map("sped_expenditure_total") @db.Decimal(15, 2)
  expenditurePerPupil  Decimal? @map("expenditure_per_pupil") @db.Decimal(12, 2)
  povertyPercent       Decimal? @map("poverty_percent") @db.Decimal(5, 2)
  graduationRate       Decimal? @map("graduation_rate") @db.Decimal(5, 2)
  mathProficiencyPct   Decimal? @map("math_proficiency_pct") @db.Decimal(5, 2)
  readProficiencyPct   Decimal? @map("read_proficiency_pct") @db.Decimal(5, 2)
  sourceFile           String?  @map("source_file")
  createdAt            DateTime @default(now()) @map("created_at") @db.Timestamp(3)
  updatedAt            DateTime @updatedAt @map("updated_at") @db.Timestamp(3)
  district             District @relation(fields: [leaid], references: [leaid])
  //<districtbench DistrictDataHistory>

  @@index([leaid], map: "district_data_history_leaid_idx")
  @@map("district_data_history")
}

model DataRefreshLog {
  id             Int      @id @default(autoincrement())
  dataSource     String   @map("data_source") @db.VarChar(50)
  dataYear       Int?     @map("data_year")
  recordsUpdated Int      @map("records_updated")
  recordsFailed  Int      @default(0) @map("records_failed")
  status         String   @db.VarChar(20)
  errorMessage   String?  @map("error_message")
  startedAt      DateTime @map("started_at") @db.Timestamp(3)
  completedAt    DateTime @default(now()) @map("completed_at") @db.Timestamp(3)
  createdAt      DateTime @map("created_at") @db.Timestamp(3)
  //<districtbench DataRefreshLog>

  @@map("data_refresh_logs")
}

model Opportunity {
  id            Int      @id @default(autoincrement())
  districtLeaid String   @map("district_leaid") @db.VarChar(7)
  title         String
  stage         Stage    @default(LEAD)
  geom          Unsupported("geometry")?
  meta          Json     @default("{\\"source\\": \\"crm // import\\"}")
  createdAt     DateTime @map("created_at") @db.Timestamp(3)
  district      District @relation(fields: [districtLeaid], references: [leaid], onDelete: Cascade)

  @@map("opportunities")
}
'''


def prisma_type(type_) -> tuple[str, str | None]:
    """This test's own reading of a db/tables.py type as (Prisma scalar, native type)."""
    if isinstance(type_, sa.DateTime):
        return "DateTime", "Timestamp(3)"
    if isinstance(type_, sa.Numeric):
        return "Decimal", f"Decimal({type_.precision}, {type_.scale})"
    if isinstance(type_, sa.Integer):
        return "Int", None
    if isinstance(type_, sa.Text):
        return "String", None
    return "String", f"VarChar({type_.length})"


def camel(name: str) -> str:
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


def blocks(output: str) -> dict[str, list[str]]:
    """model name -> the lines inside its block, as `districtbench prisma` printed them."""
    return {name: [line for line in body.splitlines() if line.strip()]
            for name, body in re.findall(r"^model (\w+) \{\n(.*?)\n\}$", output, flags=re.M | re.S)}


def pasted(output: str, schema: str = APP_SCHEMA) -> str:
    for name, lines in blocks(output).items():
        schema = schema.replace(f"  //<districtbench {name}>", "\n".join(lines))
    return schema


@pytest.fixture
def migrated_app(database_factory):
    url = database_factory.new_url()
    engine = database_factory.engine(url)
    app_layouts.build(engine, "renamed")
    before = {name: set(app_layouts.columns(engine, name)) for name in tables.APP_TABLES}
    assert ex.cli(url, "migrate").exit_code == 0
    added = {name: set(app_layouts.columns(engine, name)) - before[name] for name in tables.APP_TABLES}
    return url, engine, added


def test_the_fields_are_exactly_the_added_columns_with_their_types(migrated_app):
    url, engine, added = migrated_app
    result = ex.cli(url, "prisma")
    assert result.exit_code == 0, result.output
    # blocks to paste into the app's models: the app's model names, no @@map of their own
    tables_of = {"District": "districts", "State": "states", "DistrictDataHistory": "district_data_history",
                 "DataRefreshLog": "data_refresh_logs"}
    models = {tables_of[model.name]: model for model in parse(result.stdout)}
    assert {table for table, columns in added.items() if columns} == set(models)
    for table, model in models.items():
        assert not model.block_attributes
        fields = {f.column: f for f in model.fields}
        assert set(fields) == added[table], table
        for column, field in fields.items():
            want_type, want_native = prisma_type(tables.metadata.tables[table].c[column].type)
            assert (field.name, field.type, field.native, field.optional) == (camel(column), want_type, want_native, True), column
            assert field.attributes["map"] == f'"{column}"'
    # the app's renamed columns are the app's: nothing to declare for them, no old name either
    assert "graduation_rate" not in {f.column for f in models["districts"].fields}
    assert not {"poverty_pct", "expenditure_pp"} & {f.column for f in models["district_data_history"].fields}
    assert len(models["districts"].fields) == len(added["districts"]) > 40


def test_check_passes_once_pasted_and_names_a_missing_field_and_a_wrong_precision(migrated_app, tmp_path):
    url, engine, added = migrated_app
    snippet = ex.cli(url, "prisma").stdout
    schema_file = tmp_path / "schema.prisma"

    schema_file.write_text(APP_SCHEMA)  # nothing pasted yet
    before = ex.cli(url, "prisma", "--check", str(schema_file))
    assert before.exit_code == 1
    assert f"{sum(len(c) for c in added.values())} difference(s)" in before.stderr

    schema_file.write_text(pasted(snippet))
    ok = ex.cli(url, "prisma", "--check", str(schema_file))
    assert ok.exit_code == 0, ok.output
    assert ok.stdout == "" and "declares all" in ok.stderr

    broken = pasted(snippet)
    broken = re.sub(r"^ *swdPct .*\n", "", broken, flags=re.M)  # one field missing
    broken = re.sub(r'(avgSwdPct +Decimal\? +@map\("avg_swd_pct"\) )@db\.Decimal\(5, 2\)', r"\1@db.Decimal(6, 2)", broken)
    assert "@db.Decimal(6, 2)" in broken
    schema_file.write_text(broken)
    result = ex.cli(url, "prisma", "--check", str(schema_file))
    assert result.exit_code == 1
    report = result.stdout
    assert "model District (districts): missing the field for column swd_pct" in report
    assert 'swdPct Decimal? @map("swd_pct") @db.Decimal(5, 2)' in " ".join(report.split())
    assert "model State (states): field avgSwdPct (column avg_swd_pct" in report
    assert "Decimal? @db.Decimal(6, 2); districtbench declares Decimal? @db.Decimal(5, 2)" in report
    assert len(report.strip().splitlines()) == 4  # two problems, each with the line to paste


def test_without_a_database_every_declared_column_and_whole_models(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISTRICTBENCH_COLUMNS", "districts.graduation_rate_total=graduation_rate")
    for name in ("DISTRICTBENCH_DATABASE_URL", "DIRECT_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    from typer.testing import CliRunner

    from districtbench.cli import build_app

    result = CliRunner().invoke(build_app(), ["prisma"])
    assert result.exit_code == 0, result.output
    assert "no database" in result.stdout and not (tmp_path / "districtbench.db").exists()
    models = {model.table: model for model in parse(result.stdout)}
    assert set(models) == set(tables.APP_TABLES)
    for table, model in models.items():
        columns = {f.column: f for f in model.fields if f.is_scalar}
        logical = tables.metadata.tables[table]
        expected_columns = {("graduation_rate" if (table, c.name) == ("districts", "graduation_rate_total") else c.name)
                            for c in logical.columns}
        assert set(columns) == expected_columns, table
        assert dict(model.block_attributes)["map"] == f'"{table}"'
        for column in logical.columns:
            field = columns["graduation_rate" if column.name == "graduation_rate_total" else column.name]
            assert field.optional == (column.nullable and not column.primary_key), column.name
            assert (field.type, field.native) == prisma_type(column.type), column.name
    history = dict(models["district_data_history"].block_attributes)
    assert history["unique"] == '[leaid, year, source], map: "district_data_history_leaid_year_source_key"'
    relation = next(f for f in models["district_data_history"].fields if f.name == "district")
    assert relation.type == "District" and "references: [leaid]" in relation.attributes["relation"]


def test_the_parser_reads_a_realistic_schema():
    models = {model.name: model for model in parse(APP_SCHEMA)}
    assert set(models) == {"State", "District", "DistrictDataHistory", "DataRefreshLog", "Opportunity"}
    district = models["District"]
    assert district.table == "districts" and district.line > 1
    columns = district.by_column()
    assert columns["graduation_rate"].name == "graduationRate"  # a trailing comment is not part of it
    assert columns["graduation_rate"].native == "Decimal(5, 2)"
    assert columns["sales_rep"].optional is False and columns["notes"].optional is True
    assert columns["leaid"].attributes == {"id": "", "db.VarChar": "7"}
    assert "state" not in columns and "history" not in columns  # relation fields are not columns
    opportunity = models["Opportunity"]
    assert opportunity.by_column().keys() == {"id", "district_leaid", "title", "created_at", "meta"}
    assert opportunity.by_column()["meta"].attributes["default"] == '"{\\"source\\": \\"crm // import\\"}"'
    geom = next(f for f in opportunity.fields if f.name == "geom")
    assert geom.type == 'Unsupported("geometry")' and geom.optional and not geom.is_scalar
    assert models["State"].by_column()["abbrev"].attributes["unique"] == 'map: "states_abbrev_key"'


@pytest.mark.parametrize("text, where", [
    ("model District {\n  leaid String @id\n", "not closed"),
    ("model District {\n  leaid String @id @default(\n}\n", "schema.prisma:2: cannot read"),
    ("leaid String\n", "outside a block"),
])
def test_the_parser_says_where_a_schema_is_broken(text, where):
    with pytest.raises(UsageError, match=where):
        parse(text, "schema.prisma")


def test_check_without_a_database_finds_the_apps_names_in_the_schema_file(migrated_app, tmp_path, monkeypatch):
    """The app's CI has no database: every declared column, under the names the file has."""
    url, engine, added = migrated_app
    schema_file = tmp_path / "schema.prisma"
    schema_file.write_text(pasted(ex.cli(url, "prisma").stdout))
    monkeypatch.chdir(tmp_path)
    for name in ("DISTRICTBENCH_DATABASE_URL", "DIRECT_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    from typer.testing import CliRunner

    from districtbench.cli import build_app

    result = CliRunner().invoke(build_app(), ["prisma", "--check", str(schema_file)])
    assert result.exit_code == 0, result.output
    assert "every column districtbench declares (no database" in " ".join(result.stderr.split())
    # a column the app declares with another type than districtbench's is named
    schema_file.write_text(pasted(ex.cli(url, "prisma").stdout).replace(
        "name                  String     @db.VarChar(100)", "name                  String     @db.VarChar(80)"))
    changed = CliRunner().invoke(build_app(), ["prisma", "--check", str(schema_file)])
    assert changed.exit_code == 1
    assert "model State (states): field name (column name" in changed.stdout


def check_output(url: str, schema_file, text: str, *args: str):
    schema_file.write_text(text)
    result = ex.cli(url, "prisma", *args, "--check", str(schema_file))
    return result.exit_code, " ".join(result.stdout.split()), " ".join(result.stderr.split())


def test_check_names_a_default_that_differs_from_the_database(migrated_app, tmp_path):
    url, engine, added = migrated_app
    schema_file = tmp_path / "schema.prisma"
    schema = pasted(ex.cli(url, "prisma").stdout)
    code, _, err = check_output(url, schema_file, schema, "--all")
    assert code == 0, err
    assert "with their defaults" in err and "backed by foreign keys" in err

    # the app's own column: districtbench declares DEFAULT 0 for states.total_districts
    changed = schema.replace('totalDistricts        Int        @default(0)', 'totalDistricts        Int        @default(1)')
    assert changed != schema
    line = next(n for n, text in enumerate(changed.splitlines(), start=1) if "@default(1)" in text)
    code, out, _ = check_output(url, schema_file, changed, "--all")
    assert code == 1
    assert (f"model State (states): field totalDistricts (column total_districts, line {line}) has @default(1); "
            "districtbench declares @default(0)") in out
    code, _, err = check_output(url, schema_file, changed)  # the app's column, not one districtbench added
    assert code == 0, err

    # a column districtbench added (nullable, no default): a @default in the schema is drift
    assert "swd_pct" in added["districts"]
    changed = re.sub(r'^( *swdPct +Decimal\? )', r'\1@default(0) ', schema, flags=re.M)
    assert changed != schema
    code, out, _ = check_output(url, schema_file, changed)
    assert code == 1
    assert ("model District (districts): field swdPct (column swd_pct, line" in out
            and "has @default(0), but the database column has no default (districtbench added it without one)" in out)


def test_check_names_a_default_missing_from_a_table_districtbench_created(db_url, tmp_path):
    schema_file = tmp_path / "schema.prisma"
    schema = ex.cli(db_url, "prisma").stdout  # whole models: districtbench created every table
    code, _, err = check_output(db_url, schema_file, schema)
    assert code == 0, err
    # its foreign keys have no referential actions, and its relations say so (Prisma's defaults differ)
    assert schema.count("onDelete: NoAction, onUpdate: NoAction") == 2
    defaults = schema.replace("onDelete: NoAction, onUpdate: NoAction, ", "")
    code, out, _ = check_output(db_url, schema_file, defaults)
    assert code == 1 and out.count("has ON DELETE NO ACTION ON UPDATE NO ACTION") == 2, out
    changed = re.sub(r'^( *recordsFailed +Int +)@default\(0\) ', r'\1', schema, flags=re.M)
    assert changed != schema
    code, out, _ = check_output(db_url, schema_file, changed)
    assert code == 1
    assert ("model DataRefreshLog (data_refresh_logs): field recordsFailed (column records_failed, line" in out
            and "has no @default, but the database column has one: districtbench declares @default(0)" in out)


def test_check_names_a_relation_no_foreign_key_backs(migrated_app, tmp_path, db_kind):
    url, engine, added = migrated_app
    schema_file = tmp_path / "schema.prisma"
    schema = pasted(ex.cli(url, "prisma").stdout)

    # a relation the app declared in Prisma but never migrated: districts.state_abbrev has no foreign key
    unbacked = schema.replace(
        "  state              State    @relation(fields: [stateFips], references: [fips])",
        "  state              State    @relation(fields: [stateFips], references: [fips])\n"
        '  stateByAbbrev      State?   @relation("abbrev", fields: [stateAbbrev], references: [abbrev])',
    ).replace("  districts             District[]\n", '  districts             District[]\n  byAbbrev   District[] @relation("abbrev")\n')
    assert unbacked.count("abbrev") > schema.count("abbrev") + 2
    code, out, _ = check_output(url, schema_file, unbacked)
    assert code == 1
    assert ('model District (districts): field stateByAbbrev (line' in out
            and 'declares @relation(fields: [stateAbbrev], references: [abbrev]) to State (states), but the database '
                'has no foreign key on districts(state_abbrev) (expected one referencing states(abbrev))') in out
    assert out.count("model ") == 1  # the backed relations (District.state, DistrictDataHistory.district) pass

    # a relation whose foreign key references other columns
    other = schema.replace("@relation(fields: [stateFips], references: [fips])",
                           "@relation(fields: [stateFips], references: [abbrev])")
    code, out, _ = check_output(url, schema_file, other)
    assert code == 1
    assert "model District (districts): field state (line" in out
    assert "but the database's foreign key on districts(state_fips) differs:" in out
    assert "references states(fips) (expected states(abbrev))" in out

    # a relation whose referential actions are not the foreign key's: written ones, and
    # Prisma's defaults for an optional relation (onDelete SetNull, onUpdate Cascade)
    for declared, means in (
        ("@relation(fields: [stateFips], references: [fips], onDelete: Cascade)", "onDelete: Cascade, onUpdate: Cascade"),
        ("@relation(fields: [stateFips], references: [fips], onUpdate: NoAction)", "onDelete: Restrict, onUpdate: NoAction"),
    ):
        code, out, _ = check_output(url, schema_file, schema.replace(
            "@relation(fields: [stateFips], references: [fips])", declared))
        assert code == 1, declared
        assert ("model District (districts): field state (line" in out
                and f"which means {means} (written or Prisma's default), but the database's foreign key" in out
                and "has ON DELETE RESTRICT ON UPDATE CASCADE: `prisma migrate dev` would change it; "
                    "declare onDelete: Restrict, onUpdate: Cascade to match the database" in out), out
        assert out.count("model ") == 1
    optional = schema.replace("  state              State    @relation(fields: [stateFips], references: [fips])",
                              "  state              State?   @relation(fields: [stateFips], references: [fips])")
    assert optional != schema
    code, out, _ = check_output(url, schema_file, optional)
    assert code == 1 and "which means onDelete: SetNull, onUpdate: Cascade" in out
    # the same actions written out are the defaults: no difference
    explicit = schema.replace("@relation(fields: [stateFips], references: [fips])",
                              "@relation(fields: [stateFips], references: [fips], onDelete: Restrict, onUpdate: Cascade)")
    code, _, err = check_output(url, schema_file, explicit)
    assert code == 0, err

    if db_kind == "postgresql":  # SQLite keeps no name for an inline REFERENCES
        named = schema.replace("@relation(fields: [stateFips], references: [fips])",
                               '@relation(fields: [stateFips], references: [fips], map: "districts_state_fk")')
        code, out, _ = check_output(url, schema_file, named)
        assert code == 1
        assert ("named 'districts_state_fk', but the database's foreign key on it is named "
                "'districts_state_fips_fkey'") in out
