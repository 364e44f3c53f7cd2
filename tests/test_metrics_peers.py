"""Family `peers` against the plain-Python reference (tests/peers_reference.py) on a fixture
of real districts, on SQLite and PostgreSQL, national and state scope."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from districtbench.db import tables
from districtbench.metrics.runner import run_families
from tests import peers_reference as ref
from tests.metrics_helpers import extras, insert, registry, same


def _compute(engine, scope: str | None = None, families=("all",)):
    options = {"peer_scope": scope} if scope else None
    result = run_families(engine, registry(), list(families), options=options)
    assert result.ok, result.error
    return result


def _read(engine):
    with engine.connect() as c:
        groups = {r.leaid: r for r in c.execute(sa.select(tables.peer_groups))}
        peers = {}
        for r in c.execute(sa.select(tables.peers).order_by(tables.peers.c.leaid, tables.peers.c.rank)):
            peers.setdefault(r.leaid, []).append((r.rank, r.peer_leaid, r.distance))
        marks = {(r.leaid, r.metric): (r.peer_average, r.vs_peers, r.peer_quartile)
                 for r in c.execute(sa.select(tables.peer_benchmarks))}
    return groups, peers, marks


@pytest.fixture
def loaded(db_engine):
    districts, rows, inputs = ref.fixture()
    insert(db_engine, districts, rows)
    return db_engine, inputs


def _check(engine, inputs, scope):
    expected_peers = ref.peer_lists(inputs, scope)
    groups, peers, marks = _read(engine)
    assert set(groups) == set(ref.eligible(inputs)) == set(expected_peers)
    for leaid, found in expected_peers.items():
        g = groups[leaid]
        v = inputs[leaid]
        assert (g.scope, g.locale_group, g.enrollment, g.peer_count) == (scope, v["locale"] // 10, v["enrollment"],
                                                                        len(found))
        for column, key in (("children_poverty_percent", "poverty"), ("ell_pct", "ell_pct"), ("swd_pct", "swd_pct")):
            assert same(getattr(g, column), v[key]), (leaid, column)
        got = peers.get(leaid, [])
        assert [(rank, p) for rank, p, _ in got] == [(rank, p) for rank, (p, _) in enumerate(found, 1)], leaid
        for (_, _, d), (_, d_ref) in zip(got, found):
            assert abs(d - d_ref) <= 1e-12 * max(1.0, d_ref), (leaid, d, d_ref)
    expected = ref.benchmarks(inputs, expected_peers)
    assert set(marks) == set(expected)
    problems = [
        f"{key}: got {marks[key]!r}, expected {want!r}"
        for key, want in expected.items()
        if not all(same(a, b) for a, b in zip(marks[key], want))
    ]
    assert problems == [], problems[:10]
    return expected_peers, expected


def test_national_peers_equal_the_reference(loaded):
    engine, inputs = loaded
    _compute(engine)
    expected_peers, expected = _check(engine, inputs, "national")
    # the fixture has what it promises
    assert ref.NO_SAIPE not in expected_peers and ref.NO_LOCALE not in expected_peers
    sizes = {}
    for leaid in expected_peers:
        sizes[inputs[leaid]["locale"] // 10] = sizes.get(inputs[leaid]["locale"] // 10, 0) + 1
    assert min(sizes.values()) < 21 and max(sizes.values()) > 21, sizes
    assert all(len(found) == sizes[2] - 1 for leaid, found in expected_peers.items() if inputs[leaid]["locale"] // 10 == 2)
    twins = [found for found in expected_peers.values()
             if any(d1 == d2 for (_, d1), (_, d2) in zip(found, found[1:]))]
    assert twins, "no tie in the fixture"
    # a twin ties with its original at distance 0: the lower leaid first
    assert expected_peers["0199991"][0] == ("0100005", 0.0) and expected_peers["0199991"][1] == ("0199992", 0.0)
    for key in ("swd_pct", "ell_pct", "student_teacher_ratio", "expenditure_pp"):
        assert any(want[0] is not None and want[2] is not None for (_, k), want in expected.items() if k == key), key


def test_state_scope_equals_the_reference_and_a_rerun_leaves_no_stale_rows(loaded):
    engine, inputs = loaded
    _compute(engine)
    _compute(engine, "state")
    expected_peers, _ = _check(engine, inputs, "state")
    assert any(len(found) == 0 for found in expected_peers.values())  # a district alone in its state's group
    assert any(0 < len(found) < 3 for found in expected_peers.values())  # too few for a flag
    # the data change: a district loses its poverty figure → it leaves every table
    with engine.begin() as c:
        c.execute(tables.district_data_history.delete().where(
            tables.district_data_history.c.leaid == "0100005", tables.district_data_history.c.source == "saipe"))
    inputs["0100005"]["poverty"] = None
    _compute(engine, "state")
    _check(engine, inputs, "state")
    _compute(engine)
    _check(engine, inputs, "national")


def test_peers_runs_after_averages_and_a_bad_scope_fails_cleanly(loaded):
    engine, _ = loaded
    result = _compute(engine, families=("peers",))
    assert [f.name for f in result.families] == ["latest", "ratios", "averages", "peers"]
    before = _read(engine)
    bad = run_families(engine, registry(), ["peers"], options={"peer_scope": "county"})
    assert not bad.ok and "county" in bad.error
    assert _read(engine)[1] == before[1]  # nothing half-written


def test_compute_peer_scope_option_and_the_peer_exports(loaded, tmp_path):
    import json

    from tests import expected as ex

    engine, inputs = loaded
    url = engine.url.render_as_string(hide_password=False)
    bad = ex.cli(url, "compute", "--peer-scope", "county")
    assert bad.exit_code == 2 and "county" in bad.stderr and "national" in bad.stderr
    assert _read(engine)[1] == {}  # nothing computed
    done = ex.cli(url, "compute", "--peer-scope", "state")
    assert done.exit_code == 0, done.output
    expected_peers = ref.peer_lists(inputs, "state")
    csv_out = ex.cli(url, "export", "--table", "peers")
    lines = csv_out.stdout.splitlines()
    assert lines[0] == "leaid,peer_leaid,rank,distance"
    assert len(lines) - 1 == sum(len(found) for found in expected_peers.values())
    first = next(leaid for leaid in sorted(expected_peers) if expected_peers[leaid])
    leaid, peer, rank, dist = lines[1].split(",")
    assert (leaid, peer, rank) == (first, expected_peers[first][0][0], "1")
    assert abs(float(dist) - expected_peers[first][0][1]) <= 1e-12
    out = tmp_path / "marks.json"
    assert ex.cli(url, "export", "--table", "peer_benchmarks", "--states", "AK", "-o", str(out)).exit_code == 0
    marks = json.loads(out.read_text())
    alaska = [leaid for leaid in expected_peers if inputs[leaid]["state"] == "02"]
    assert len(marks) == 8 * len(alaska) and set(marks[0]) == {"leaid", "metric", "peer_average", "vs_peers",
                                                                "peer_quartile"}
    expected = ref.benchmarks(inputs, expected_peers)
    for row in marks:
        want = expected[(row["leaid"], row["metric"])]
        got = (row["peer_average"], row["vs_peers"], row["peer_quartile"])
        assert all(same(a, b) for a, b in zip(got, want)), (row, want)


def test_show_gives_each_metric_its_peer_average(loaded):
    """`show --json` and the terminal table carry the peer average of the reference."""
    import json

    from tests import expected as ex

    engine, inputs = loaded
    _compute(engine)
    expected_peers = ref.peer_lists(inputs, "national")
    expected = ref.benchmarks(inputs, expected_peers)
    leaid = next(l for l in sorted(expected_peers) if len(expected_peers[l]) == 20)
    keys = [key for (owner, key), want in expected.items() if owner == leaid and want[0] is not None]
    assert len(keys) >= 3, keys
    url = engine.url.render_as_string(hide_password=False)
    shown = ex.cli(url, "show", leaid, "--json")
    assert shown.exit_code == 0, shown.output
    metrics = {m["key"]: m for m in json.loads(shown.stdout)["metrics"]}
    for key in {k for (owner, k) in expected if owner == leaid}:
        want = expected[(leaid, key)][0]
        got = metrics[key]["peer_average"]
        assert same(None if got is None else Decimal(str(got)), want), (key, got, want)
    table = ex.cli(url, "show", leaid)
    assert table.exit_code == 0 and "peers" in table.stdout
    # a district without a peer group shows no peer figures
    lonely = next(l for l in sorted(inputs) if l not in expected_peers)
    alone = json.loads(ex.cli(url, "show", lonely, "--json").stdout)
    assert all(m["peer_average"] is None for m in alone["metrics"])


def test_show_peers_lists_the_reference_peers_nearest_first(loaded):
    import json

    from tests import expected as ex

    engine, inputs = loaded
    _compute(engine)
    expected_peers = ref.peer_lists(inputs, "national")
    leaid = next(l for l in sorted(expected_peers) if len(expected_peers[l]) == 20)
    url = engine.url.render_as_string(hide_password=False)
    listed = ex.cli(url, "show", leaid, "--peers", "--json")
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.stdout)
    assert [p["leaid"] for p in data["peers"]] == [p for p, _ in expected_peers[leaid]]
    assert [p["rank"] for p in data["peers"]] == list(range(1, 21))
    for got, (_, want) in zip(data["peers"], expected_peers[leaid]):
        assert abs(got["distance"] - want) <= 1e-12 * max(1.0, want)
        assert same(Decimal(got["ell_pct"]), inputs[got["leaid"]]["ell_pct"])
    assert data["peer_group"]["scope"] == "national"
    text = ex.cli(url, "show", leaid, "--peers")
    assert text.exit_code == 0, text.output
    first = expected_peers[leaid][0][0]
    assert "20 peers (national scope" in " ".join(text.stdout.split())
    assert first in text.stdout
    # not eligible: the message names what the district lacks (the fixture's two made so)
    assert ref.NO_SAIPE not in expected_peers and ref.NO_LOCALE not in expected_peers
    for lonely, lacks in ((ref.NO_SAIPE, "a children's poverty percentage (SAIPE)"),
                          (ref.NO_LOCALE, "a known urban-centric locale (11–13, 21–23, 31–33, 41–43)")):
        none = ex.cli(url, "show", lonely, "--peers")
        assert none.exit_code == 0, none.output
        assert f"lacks what one needs, on the districts table: {lacks}." in " ".join(none.stdout.split())
        data = json.loads(ex.cli(url, "show", lonely, "--peers", "--json").stdout)
        assert (data["peer_group"], data["peers"], data["missing_for_a_peer_group"]) == (None, [], [lacks])
    # eligible, but no compute since its values arrived: says to run compute
    eligible = min(expected_peers)
    with engine.begin() as c:
        c.execute(tables.peers.delete().where(tables.peers.c.leaid == eligible))
        c.execute(tables.peer_groups.delete().where(tables.peer_groups.c.leaid == eligible))
    waiting = ex.cli(url, "show", eligible, "--peers")
    assert waiting.exit_code == 0 and "No peer group yet" in waiting.stdout and "districtbench compute" in waiting.stdout


def test_status_shows_peer_coverage(loaded):
    import json

    from tests import expected as ex

    engine, inputs = loaded
    url = engine.url.render_as_string(hide_password=False)

    before = ex.cli(url, "status")
    assert before.exit_code == 0, before.output
    assert "Peer groups: none yet" in " ".join(before.stdout.split())
    _compute(engine)
    expected_peers = ref.peer_lists(inputs, "national")
    expected = ref.benchmarks(inputs, expected_peers)
    data = json.loads(ex.cli(url, "status", "--json").stdout)["peers"]
    assert data["districts"] == len(expected_peers)
    assert data["full_groups"] == sum(1 for found in expected_peers.values() if len(found) == 20)
    assert data["peer_averages"] == sum(1 for want in expected.values() if want[0] is not None)
    names = {1: "City", 2: "Suburb", 3: "Town", 4: "Rural"}
    by_group = {}
    for leaid in expected_peers:
        name = names[inputs[leaid]["locale"] // 10]
        by_group[name] = by_group.get(name, 0) + 1
    assert data["by_locale_group"] == by_group
    text = " ".join(ex.cli(url, "status").stdout.split())
    assert f"Peer groups (national scope): {len(expected_peers):,} districts" in text
    # the others, and what each lacks (the reference's own reading of the rule)
    out = [v for leaid, v in inputs.items() if leaid not in expected_peers]
    lacking = {
        "enrollment": sum(1 for v in out if v["enrollment"] is None or v["enrollment"] < 1),
        "urban_centric_locale": sum(1 for v in out if v["locale"] not in ref.LOCALES),
        "children_poverty_percent": sum(1 for v in out if v["poverty"] is None),
        "ell_pct": sum(1 for v in out if v["ell_pct"] is None),
        "swd_pct": sum(1 for v in out if v["swd_pct"] is None),
    }
    assert lacking["urban_centric_locale"] >= 1 and lacking["children_poverty_percent"] >= 1  # NO_LOCALE, NO_SAIPE
    assert data["not_eligible"] == len(out) == len(inputs) - len(ref.eligible(inputs))
    assert data["not_eligible_lacking"] == {name: n for name, n in lacking.items() if n}
    labels = {"enrollment": "enrollment ≥ 1", "urban_centric_locale": "a locale",
              "children_poverty_percent": "poverty %", "ell_pct": "ELL %", "swd_pct": "SWD %"}
    without = ", ".join(f"{labels[name]}: {n:,}" for name, n in lacking.items() if n)
    assert f"Not eligible for a peer group: {len(out):,} districts — without {without} (some lack several)." in text


def test_the_report_shows_the_peer_average_beside_state_and_us(loaded, browser, tmp_path):
    """In a real browser: the district report's summary has the peer average of the reference
    for each metric, and the page still loads nothing from elsewhere."""
    from tests import expected as ex
    from tests.browser import open_page

    engine, inputs = loaded
    _compute(engine)
    expected_peers = ref.peer_lists(inputs, "national")
    expected = ref.benchmarks(inputs, expected_peers)
    leaid = next(l for l in sorted(expected_peers) if len(expected_peers[l]) == 20)
    target = tmp_path / "peer.html"
    url = engine.url.render_as_string(hide_password=False)
    assert ex.cli(url, "report", leaid, "-o", str(target)).exit_code == 0
    page = open_page(browser, target)
    assert page.requests == [target.resolve().as_uri()] and page.errors == []
    checked = 0
    for (owner, key), (average, _, _) in expected.items():
        if owner != leaid:
            continue
        cell = page.page.locator(f"#summary tr[data-metric={key}] [data-figure=peer_average]").inner_text()
        assert cell == ("—" if average is None else f"{average:,.2f}"), key
        checked += 1
    assert checked == 8
    page.page.close()


def _changed_rows(before: dict, after: dict) -> set:
    """Keys whose row is new, gone or different."""
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


def _expected_rows(inputs, scope="national"):
    """The three tables' rows by key, from the reference."""
    found = ref.peer_lists(inputs, scope)
    groups = {leaid: (inputs[leaid]["enrollment"], inputs[leaid]["poverty"], inputs[leaid]["ell_pct"],
                      inputs[leaid]["swd_pct"], len(peers)) for leaid, peers in found.items()}
    peers = {(leaid, rank): peer for leaid, peers in found.items() for rank, peer in enumerate(peers, 1)}
    return {tables.peer_groups.name: groups, tables.peers.name: peers,
            tables.peer_benchmarks.name: ref.benchmarks(inputs, found)}


def test_the_run_counts_the_peer_rows_it_changes(loaded):
    """A first run writes every row; a re-run changes none; one district's new poverty figure
    (a feature: every z-score, so nearly every distance, moves) and another's spending (a
    benchmarked metric only) change exactly the rows the reference says change."""
    engine, inputs = loaded
    expected = _expected_rows(inputs)
    first = _compute(engine)["peers"].outcome
    assert first.rows_changed == {name: len(rows) for name, rows in expected.items()}
    assert first.districts_updated == len(expected[tables.peer_groups.name])
    again = _compute(engine)["peers"].outcome
    assert again.rows_changed == {name: 0 for name in expected} and again.districts_updated == 0

    full = [l for l in sorted(expected[tables.peer_groups.name]) if expected[tables.peer_groups.name][l][4] == 20]
    poorer, spender = full[0], full[5]
    steps = [
        ("saipe", "poverty_pct", poorer, "poverty", inputs[poorer]["poverty"] + Decimal("7.5")),
        ("ccd_finance", "expenditure_pp", spender, "expenditure_pp", inputs[spender]["expenditure_pp"] + Decimal("900")),
    ]
    for source, column, leaid, key, value in steps:
        before = _expected_rows(inputs)
        h = tables.district_data_history
        with engine.begin() as c:
            c.execute(h.update().where(h.c.leaid == leaid, h.c.source == source).values({column: value}))
        inputs[leaid][key] = value
        after = _expected_rows(inputs)
        outcome = _compute(engine)["peers"].outcome
        changed = {name: _changed_rows(before[name], after[name]) for name in before}
        assert outcome.rows_changed == {name: len(keys) for name, keys in changed.items()}, (key, outcome)
        owners = {k if isinstance(k, str) else k[0] for keys in changed.values() for k in keys}
        assert outcome.districts_updated == len(owners)
        if key == "poverty":
            assert changed[tables.peer_groups.name] == {leaid}
            assert len(changed[tables.peers.name]) > len(after[tables.peers.name]) // 2
        else:
            assert not changed[tables.peer_groups.name] and not changed[tables.peers.name]
            assert 1 < len(changed[tables.peer_benchmarks.name]) < 100
        _check(engine, inputs, "national")  # and the tables are what a full rewrite gives

    # the partial rewrite left its rows out of key order in the tables: a recomputation finds them all equal
    again = run_families(engine, registry(), ["all"], options={"recompute": True})
    assert again.ok and again["peers"].outcome.rows_changed == {name: 0 for name in expected}
    from districtbench.db.engine import own_schema

    inspector = sa.inspect(engine)
    for table in (tables.peer_groups, tables.peers, tables.peer_benchmarks):
        # on PostgreSQL a full rewrite by the owner drops the primary key for the COPY and adds it back
        key = inspector.get_pk_constraint(table.name, schema=own_schema(engine))
        assert key["constrained_columns"] == [c.name for c in table.primary_key.columns]
        if engine.dialect.name == "postgresql":
            assert key["name"] == f"{table.name}_pkey"


def test_rows_written_by_hand_into_the_peer_tables_are_found_counted_and_undone(loaded):
    """Rows the family would not write — a leaid of another length, a metric key it does not
    know (on PostgreSQL neither reads as fixed records, so the stored rows are read as
    text) — and a changed peer are each counted as one changed row, and the tables end as
    the reference has them."""
    engine, inputs = loaded
    _compute(engine)
    p, b = tables.peers, tables.peer_benchmarks
    first = sorted(_expected_rows(inputs)[tables.peer_groups.name])[0]
    with engine.begin() as c:
        c.execute(p.insert().values(leaid="01000", rank=1, peer_leaid=first, distance=0.5))
        c.execute(b.insert().values(leaid=first, metric="not_a_metric", peer_average=1, vs_peers=None, peer_quartile=None))
        rank1 = c.execute(sa.select(p.c.peer_leaid).where(p.c.leaid == first, p.c.rank == 1)).scalar()
        rank2 = c.execute(sa.select(p.c.peer_leaid).where(p.c.leaid == first, p.c.rank == 2)).scalar()
        c.execute(p.update().where(p.c.leaid == first, p.c.rank == 1).values(peer_leaid=rank2))
    outcome = _compute(engine)["peers"].outcome
    assert rank1 != rank2
    assert outcome.rows_changed == {tables.peer_groups.name: 0, p.name: 2, b.name: 1}
    assert outcome.districts_updated == 2  # `first` and the stray "01000"
    _check(engine, inputs, "national")
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(p).where(p.c.leaid == "01000")).scalar() == 0
        assert c.execute(sa.select(sa.func.count()).select_from(b).where(b.c.metric == "not_a_metric")).scalar() == 0


def _fingerprint(engine):
    f = tables.family_inputs
    with engine.connect() as c:
        return c.execute(sa.select(f.c.fingerprint, f.c.recorded_at).where(f.c.family == "peers")).one()


def _age_fingerprint(engine):
    """Mark the recorded fingerprint as old, to tell whether the next run records another."""
    f = tables.family_inputs
    with engine.begin() as c:
        c.execute(f.update().values(recorded_at=datetime(2001, 1, 1)))


def test_a_rerun_with_the_same_inputs_keeps_the_tables_and_any_difference_recomputes(loaded, monkeypatch):
    """The fingerprint (metrics/fingerprints.py): the same inputs and row counts → nothing is
    computed or written; a deleted row, an option, a denominator beside the history or the
    method's version → computed again, and the tables equal the reference."""
    engine, inputs = loaded
    expected = _expected_rows(inputs)
    _compute(engine)
    fingerprint, _ = _fingerprint(engine)
    counts = {name: len(rows) for name, rows in expected.items()}
    assert fingerprint.split(" ")[1:] == [f"{name}={counts[name]}" for name in sorted(counts)]
    assert len(fingerprint.split(" ")[0]) == 64

    _age_fingerprint(engine)
    again = _compute(engine)["peers"].outcome
    assert again.rows_changed == {name: 0 for name in expected}
    assert _fingerprint(engine) == (fingerprint, datetime(2001, 1, 1))  # skipped: not recorded again

    # a row gone from districtbench_peers: the counts differ, so the run computes and puts it back
    p = tables.peers
    victim = next(iter(sorted(expected[p.name])))
    with engine.begin() as c:
        c.execute(p.delete().where(p.c.leaid == victim[0], p.c.rank == victim[1]))
    restored = _compute(engine)["peers"].outcome
    assert restored.rows_changed == {tables.peer_groups.name: 0, p.name: 1, tables.peer_benchmarks.name: 0}
    assert _fingerprint(engine)[0] == fingerprint
    _check(engine, inputs, "national")

    # another scope is another fingerprint; back to national, the first one again
    _compute(engine, "state")
    assert _fingerprint(engine)[0].split(" ")[0] != fingerprint.split(" ")[0]
    _check(engine, inputs, "state")
    _compute(engine)
    assert _fingerprint(engine)[0] == fingerprint

    # a denominator beside a history row (the pupils of a finance row) is an input too; with
    # the others' still missing, the peer averages keep their fallback, as the reference says
    h = tables.district_data_history
    with engine.connect() as c:
        leaid, year = c.execute(sa.select(h.c.leaid, h.c.year).where(
            h.c.source == "ccd_finance", h.c.expenditure_pp.is_not(None)).order_by(h.c.leaid)).first()
    insert(engine, extra_rows=[extras(leaid, year, "ccd_finance", pupils=5000)])
    _age_fingerprint(engine)
    _compute(engine)
    assert _fingerprint(engine)[0] != fingerprint and _fingerprint(engine)[1] != datetime(2001, 1, 1)
    _check(engine, inputs, "national")

    # the method's version is part of the fingerprint
    from districtbench.metrics import peers as family
    current = _fingerprint(engine)[0]
    _age_fingerprint(engine)
    monkeypatch.setattr(family, "METHOD_VERSION", family.METHOD_VERSION + 1)
    _compute(engine)
    assert _fingerprint(engine)[0] != current and _fingerprint(engine)[1] != datetime(2001, 1, 1)


@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_a_role_that_may_not_truncate_rewrites_the_peer_tables_by_delete(loaded, db_url):
    """A full rewrite empties a peer table by TRUNCATE where the role may and no row-level
    security applies (TRUNCATE would bypass it), else by DELETE — same rows either way."""
    from districtbench.db.engine import create_db_engine, own_schema
    from districtbench.metrics import peers_store
    from districtbench.metrics.context import RunContext

    engine, inputs = loaded
    _compute(engine)
    role = f"dbtest_peers_{uuid.uuid4().hex[:8]}"
    schema = own_schema(engine)
    with engine.begin() as c:
        c.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
        for name in ("public", schema):
            c.execute(sa.text(f'GRANT USAGE ON SCHEMA "{name}" TO "{role}"'))
            c.execute(sa.text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{name}" TO "{role}"'))
            c.execute(sa.text(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{name}" TO "{role}"'))
    restricted = create_db_engine(sa.engine.make_url(db_url).set(username=role).render_as_string(hide_password=False))
    try:
        # a new poverty figure moves every z-score: nearly every peers row changes, a full rewrite
        leaid = sorted(ref.peer_lists(inputs, "national"))[0]
        value = inputs[leaid]["poverty"] + Decimal("7.5")
        h = tables.district_data_history
        with engine.begin() as c:
            c.execute(h.update().where(h.c.leaid == leaid, h.c.source == "saipe").values(poverty_pct=value))
        inputs[leaid]["poverty"] = value
        result = run_families(restricted, registry(), ["all"])
        assert result.ok, result.error
        changed = result["peers"].outcome.rows_changed[tables.peers.name]
        assert changed > len(_expected_rows(inputs)[tables.peers.name]) // 2
        _check(engine, inputs, "national")

        with restricted.connect() as c:
            ctx = RunContext(c, datetime(2026, 12, 3))
            assert peers_store._refill(ctx, tables.peers) == peers_store.Refill(False, None)  # no TRUNCATE privilege
        with engine.begin() as c:
            c.execute(sa.text(f'GRANT TRUNCATE ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"'))
        with restricted.connect() as c:
            # may truncate; does not own the table, so may not drop and add back its primary key
            assert peers_store._refill(RunContext(c, datetime(2026, 12, 3)), tables.peers) == peers_store.Refill(True, None)
        with engine.connect() as c:  # the owner may do both
            assert peers_store._refill(RunContext(c, datetime(2026, 12, 3)), tables.peers) == peers_store.Refill(
                True, (f"{tables.peers.name}_pkey", "PRIMARY KEY (leaid, rank)"))
        with engine.begin() as c:
            c.execute(sa.text(f'ALTER TABLE "{schema}".{tables.peers.name} ENABLE ROW LEVEL SECURITY'))
        with restricted.connect() as c:  # would bypass the policies
            assert peers_store._refill(RunContext(c, datetime(2026, 12, 3)), tables.peers) == peers_store.Refill(False, None)
    finally:
        restricted.dispose()
        with engine.begin() as c:
            c.execute(sa.text(f'DROP OWNED BY "{role}"'))
            c.execute(sa.text(f'DROP ROLE "{role}"'))


def test_compute_says_when_the_inputs_are_unchanged_and_recompute_computes_anyway(loaded):
    from tests import expected as ex

    engine, inputs = loaded
    url = engine.url.render_as_string(hide_password=False)
    first = ex.cli(url, "compute")
    assert first.exit_code == 0, first.output
    assert "inputs are as they were" not in first.stderr
    _age_fingerprint(engine)
    again = ex.cli(url, "compute")
    assert again.exit_code == 0, again.output
    said = " ".join(again.stderr.split())
    assert "peers: its inputs are as they were when it last wrote its tables" in said
    assert "compute --recompute computes anyway" in said
    assert _fingerprint(engine)[1] == datetime(2001, 1, 1)
    forced = ex.cli(url, "compute", "peers", "--recompute")
    assert forced.exit_code == 0, forced.output
    assert "inputs are as they were" not in forced.stderr
    assert "districtbench_peers 0" in " ".join(forced.stderr.split())  # computed and compared: nothing differs
    assert _fingerprint(engine)[1] != datetime(2001, 1, 1)
    _check(engine, inputs, "national")
    assert "--recompute" in ex.cli(url, "compute", "--help").stdout


def test_the_district_suggested_for_show_peers_has_a_peer_group(loaded):
    """`run`'s "Next:" suggests `show LEAID --peers` for the example district when it has a
    peer group, else for the largest district of the run's states that has one."""
    from districtbench.reporting.show import example_peer_district

    engine, inputs = loaded
    _compute(engine)
    grouped = ref.peer_lists(inputs, "national")
    arkansas = [leaid for leaid in grouped if inputs[leaid]["state"] == "05"]
    largest = min(arkansas, key=lambda leaid: (-inputs[leaid]["enrollment"], leaid))
    with engine.connect() as c:
        assert example_peer_district(c, ["05"], arkansas[0]) == arkansas[0]
        assert example_peer_district(c, ["05"], ref.NO_LOCALE) == largest
        assert example_peer_district(c, ["05"], None) == largest
        assert example_peer_district(c, ["72"], None) is None  # no district of that state loaded
