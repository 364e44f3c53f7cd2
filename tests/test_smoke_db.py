import sqlalchemy as sa

from districtbench.db import tables


def test_migrated_database_has_57_reference_rows(db_engine):
    with db_engine.connect() as connection:
        abbrevs = set(connection.execute(sa.select(tables.states.c.abbrev)).scalars())
    assert len(abbrevs) == 57
    assert {"CA", "DC", "PR", "US"} <= abbrevs
