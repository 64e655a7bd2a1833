"""`rexai plan-experiments`: the lab's next experiments from the champion, printed, as JSON or as a lab sheet.

Like `rexai recommend` it imports no Dagster and pauses the garbage collector while the model loads
(`cli.serving.StartUp`); the champion's scores of planning's pool are kept per (model, pool), filled by the
`experiment_plan` run after each champion change, so a plan over 20,000 candidates loads no model.
`open_plan_status` is the plan line of `rexai status`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

from rexai_assets.cli import CommandError


def open_plan_status(warehouse: Any = None) -> dict | None:
    """{"plan_id", "model_version", "planned", "measured"} of the newest plan with experiments to run, or None."""
    from rexai_assets.planning.store import open_plan_status as status
    from rexai_assets.warehouse import WarehouseClient, warehouse_path

    return status(warehouse or WarehouseClient(warehouse_path()))


def sheet_text(rows: list[dict[str, str]]) -> str:
    from rexai_assets.planning.report import SHEET_COLUMNS

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(SHEET_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _check_sheet_path(path: Path) -> Path:
    if path.suffix.lower() != ".csv":
        raise CommandError(f"{path}: the lab sheet is a .csv file")
    if not path.parent.is_dir():
        raise CommandError(f"{path}: folder {path.parent} does not exist")
    return path


def _plan(args: argparse.Namespace) -> tuple[Any, Any]:
    """The stored plan and the habitat decision (None without --habitat)."""
    from rexai_assets.cli.serving import StartUp, _tables, habitat_model
    from rexai_assets.models.adapters import AdaptedModel
    from rexai_assets.paths import layout
    from rexai_assets.planning.plan import PlanningError
    from rexai_assets.planning.service import load_champion_card, load_version, make_plan, plan_cache
    from rexai_assets.settings import ConfigError
    from rexai_assets.warehouse import WarehouseClient, warehouse_path

    with StartUp() as startup:
        tables = _tables()
        try:
            # The shared champion's pool scores are kept per model and pool; an adapted model is scored anew.
            shared = getattr(args, "habitat", None) is None
            model, version = (load_champion_card if shared else load_version)(layout().tracking_uri)
            model, decision = habitat_model(model, args, wrap=AdaptedModel)
            startup.ready()
            return make_plan(WarehouseClient(warehouse_path()), tables, (model, version), n=args.n,
                             target=args.target, cache=plan_cache(layout().models) if shared else None), decision
        except (PlanningError, ConfigError) as exc:
            raise CommandError(str(exc)) from None


def cmd_plan_experiments(args: argparse.Namespace) -> int:
    from rexai_assets.atomic import write_text_atomic
    from rexai_assets.planning.report import lab_sheet, plan_lines

    if args.n is not None and args.n < 1:
        raise CommandError("--n must be at least 1")
    sheet = _check_sheet_path(Path(args.sheet)) if args.sheet else None
    plan, decision = _plan(args)
    if sheet is not None:
        write_text_atomic(sheet, sheet_text(lab_sheet(plan)))
    if args.json:
        print(json.dumps({**plan.document(), **(decision.document() if decision else {})}, indent=2))
        return 0
    if decision is not None:
        from rexai_assets.cli.serving import habitat_line

        print(habitat_line(decision))
    print("\n".join(plan_lines(plan)))
    if sheet is not None:
        print(f"lab sheet: {sheet} (fill in environment, operator_id, started_at, finished_at, raw_measurements, "
              "verdict; then `rexai log-experiment` it)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    plan = subparsers.add_parser("plan-experiments", help="the lab's next experiments (explore, verify, disagreement)")
    plan.add_argument("--n", type=int, default=None, help="experiments in the plan (default: config/planning.yaml)")
    plan.add_argument("--target", default=None, help="verify only this preset (default: every preset)")
    plan.add_argument("--json", action="store_true", help="print JSON")
    plan.add_argument("--sheet", default=None, metavar="FILE.csv", help="also write a lab sheet for `rexai log-experiment`")
    from rexai_assets.cli.serving import add_habitat_arguments

    add_habitat_arguments(plan)
    plan.set_defaults(handler=cmd_plan_experiments, skip_final_collection=True)
