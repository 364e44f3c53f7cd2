"""`districtbench compute [FAMILY…|all]`: run metric families in one transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional

import typer
from districtbench import console
from districtbench.cli.options import peer_scope_option
from districtbench.cli.state import get_state
from districtbench.errors import ComputeError

if TYPE_CHECKING:
    from districtbench.metrics.runner import ComputeResult


def register(app: typer.Typer) -> None:
    @app.command("compute")
    def compute_command(
        ctx: typer.Context,
        families: Optional[List[str]] = typer.Argument(
            None,
            metavar="[FAMILY...]",
            help="Metric families to run, in dependency order, or `all` (the default). See `districtbench metrics`.",
            show_default=False,
        ),
        peer_scope: str = peer_scope_option(),
        recompute: bool = typer.Option(
            False,
            "--recompute",
            help="Compute the peers family even when its inputs are the same as when it last wrote its tables "
            "(it skips the work then: see the README, \"Peer groups\").",
        ),
    ) -> None:
        """Compute benchmarks from the history: all in one transaction (all or nothing).

        A named family also runs the families it runs after, so nothing it reads is stale.

        Example: districtbench compute deltas   (runs latest, ratios, averages and deltas)
        """
        from districtbench.metrics.fingerprints import RECOMPUTE_OPTION
        from districtbench.metrics.runner import plan_families, run_families
        from districtbench.metrics.peers import SCOPE_OPTION, check_scope

        scope = check_scope(peer_scope)  # a bad value: exit 2 before touching the database
        state = get_state(ctx)
        registry = state.families
        plan = plan_families(registry, families)  # unknown names: exit 2 before touching the database
        added = plan.added
        if added:
            console.info(
                f"Also running {', '.join(added)}: the families named run after them, "
                "so nothing they read is left from an earlier run."
            )
        engine = state.migrated_engine()
        result = run_families(engine, registry, plan=plan, options={SCOPE_OPTION: scope, **({RECOMPUTE_OPTION: "1"} if recompute else {})}, sources=state.sources)
        print_summary(result)
        if not result.ok:
            if len(result.failed_families) > 1:
                where = f"families {result.failed_family}"
            else:
                where = f"family {result.failed_family!r}" if result.failed_family else "the commit"
            raise ComputeError(
                f"compute failed in {where}: {result.error}",
                hint="Nothing was changed (the run is one transaction); each family's log row records the failure.",
            )


def print_summary(result: ComputeResult) -> None:
    counts = ("districts updated", "states updated", "values NULLed", "seconds")
    table = console.table("Compute", "family", "status", *counts, right=counts)
    for family in result.families:
        status = "ok" if family.status == "success" else family.status
        table.add_row(
            family.name,
            status,
            f"{family.outcome.districts_updated:,}",
            f"{family.outcome.states_updated:,}",
            f"{family.outcome.values_nulled:,}",
            f"{family.seconds:.2f}",
        )
    console.print_err(table)
    for family in result.families:
        if family.outcome.nulled:
            detail = ", ".join(f"{column} {count:,}" for column, count in sorted(family.outcome.nulled.items()))
            console.note(
                f"{family.name}: stored NULL because the value did not fit its column, was invalid or implausible: {detail}"
            )
        if family.outcome.no_base_year:
            detail = ", ".join(f"{column} {count:,}" for column, count in sorted(family.outcome.no_base_year.items()))
            console.note(
                f"{family.name}: no 3-year trend because the state has no year of data within latest − 4 … "
                f"latest − 2 (districts): {detail}"
            )
        if family.outcome.rows_changed:
            detail = ", ".join(f"{table} {count:,}" for table, count in family.outcome.rows_changed.items())
            console.note(f"{family.name}: rows inserted, deleted or changed: {detail}")
        if family.outcome.inputs_unchanged:
            console.note(
                f"{family.name}: its inputs are as they were when it last wrote its tables, which are kept as they are "
                "(compute --recompute computes anyway)."
            )
        if family.outcome.enrollment_weighted:
            detail = ", ".join(f"{column} {count:,}" for column, count in sorted(family.outcome.enrollment_weighted.items()))
            console.note(
                f"{family.name}: weighted by enrollment, not pooled over the measure's own denominators, where a "
                f"district's history has none (written before districtbench 0005; fetch it again) — states and US: {detail}"
            )
    if result.ok:
        console.info(f"Committed in {result.seconds:.2f} s (rows whose values did not change are left untouched).")
