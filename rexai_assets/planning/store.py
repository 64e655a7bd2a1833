"""Plans in the warehouse (`planning.experiment_plans`, one row per planned recipe) and their progress.

A row is `planned` until an experiment with its recipe_id is ingested (`sync_measured`, the one place
that marks rows `measured`; the `experiment_plan` asset, `rexai plan-experiments`, `open_plan_status`
and the loop's requested-tests sensor call it before they read).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from rexai_assets.warehouse import WarehouseClient, table_exists

PLANNED, MEASURED = "planned", "measured"
TABLE = "planning.experiment_plans"
DDL = f"""
CREATE SCHEMA IF NOT EXISTS planning;
CREATE TABLE IF NOT EXISTS {TABLE} (
    plan_id VARCHAR NOT NULL,
    model_version VARCHAR,
    created_at TIMESTAMP NOT NULL,
    rank INTEGER NOT NULL,
    recipe_id VARCHAR NOT NULL,
    recipe VARCHAR NOT NULL,
    purpose VARCHAR NOT NULL,
    acquisition DOUBLE,
    status VARCHAR NOT NULL,
    prediction VARCHAR,
    config_sha256 VARCHAR,
    proposal_id VARCHAR,
    measured_at TIMESTAMP,
    PRIMARY KEY (plan_id, rank)
);
"""


@dataclass
class PlannedExperiment:
    recipe_id: str
    recipe: dict
    purpose: str            # explore | verify:<preset> | disagreement
    acquisition: float
    prediction: dict        # {target: {"value", "lo", "hi"}} from the champion


@dataclass
class Plan:
    plan_id: str
    model_version: str | None
    created_at: datetime
    experiments: list[PlannedExperiment]
    config_sha256: str
    proposal_id: str | None = None  # set when the second vote requested these tests

    def document(self) -> dict:
        """DESIGN.md's `rexai plan-experiments --json`."""
        return {"plan_id": self.plan_id, "model_version": self.model_version,
                "experiments": [{"recipe_id": e.recipe_id, "recipe": e.recipe, "purpose": e.purpose,
                                 "acquisition": e.acquisition, "prediction": e.prediction} for e in self.experiments]}


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def ensure_table(con: Any) -> None:
    con.execute(DDL)


def insert_plan(con: Any, plan: Plan) -> None:
    ensure_table(con)
    rows = [[plan.plan_id, plan.model_version, plan.created_at, rank, e.recipe_id, json.dumps(e.recipe, sort_keys=True),
             e.purpose, float(e.acquisition), PLANNED, json.dumps(e.prediction, sort_keys=True), plan.config_sha256,
             plan.proposal_id, None] for rank, e in enumerate(plan.experiments, start=1)]
    if rows:
        con.executemany(f"INSERT INTO {TABLE} VALUES ({', '.join('?' * len(rows[0]))})", rows)


def sync_measured(con: Any) -> int:
    """Mark `measured` every planned row whose recipe_id an ingested experiment carries; the rows marked."""
    ensure_table(con)
    if not table_exists(con, "observations", "experiment_runs"):
        return 0
    marked = con.execute(f"UPDATE {TABLE} SET status = ?, measured_at = ? WHERE status = ? AND recipe_id IN "
                         "(SELECT recipe_id FROM observations.experiment_runs)", [MEASURED, now_utc(), PLANNED])
    return int(marked.fetchone()[0])


def planned_ids(con: Any) -> set[str]:
    """Recipe ids planned and not yet measured (a new plan never repeats them)."""
    ensure_table(con)
    return {r[0] for r in con.execute(f"SELECT DISTINCT recipe_id FROM {TABLE} WHERE status = ?", [PLANNED]).fetchall()}


def measured_recipes(con: Any) -> list[tuple[str, str]]:
    """(recipe_id, recipe_spec) of every observation in the warehouse (experiments and crew feedback)."""
    if not table_exists(con, "observations", "measurements"):
        return []
    return [(str(r[0]), str(r[1])) for r in con.execute(
        "SELECT DISTINCT recipe_id, recipe_spec FROM observations.measurements WHERE recipe_spec IS NOT NULL").fetchall()]


def plan_progress(con: Any, plan_id: str) -> tuple[int, int]:
    """(rows, measured rows) of one plan."""
    ensure_table(con)
    total, measured = con.execute(f"SELECT count(*), count(*) FILTER (WHERE status = ?) FROM {TABLE} WHERE plan_id = ?",
                                  [MEASURED, plan_id]).fetchone()
    return int(total), int(measured or 0)


def open_plan_status(warehouse: WarehouseClient) -> dict | None:
    """The newest plan with experiments still to run: {"plan_id", "model_version", "planned" (experiments in it),
    "measured" (of those, measured)}; None
    when every plan is measured (or there is none). For `rexai status`."""
    if not warehouse.table_exists("planning", "experiment_plans"):
        return None
    with warehouse.transaction() as con:
        sync_measured(con)
        row = con.execute(f"SELECT plan_id, any_value(model_version), count(*), count(*) FILTER (WHERE status = ?), "
                          f"max(created_at) AS created FROM {TABLE} GROUP BY plan_id "
                          f"HAVING count(*) FILTER (WHERE status = ?) > 0 ORDER BY created DESC, plan_id DESC LIMIT 1",
                          [MEASURED, PLANNED]).fetchone()
    if row is None:
        return None
    return {"plan_id": row[0], "model_version": row[1], "planned": int(row[2]), "measured": int(row[3])}


def requested_progress(con: Any) -> dict[str, tuple[int, int]]:
    """Per proposal that requested tests: (experiments planned, of those measured)."""
    ensure_table(con)
    rows = con.execute(f"SELECT proposal_id, count(*), count(*) FILTER (WHERE status = ?) FROM {TABLE} "
                       "WHERE proposal_id IS NOT NULL GROUP BY proposal_id", [MEASURED]).fetchall()
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}
