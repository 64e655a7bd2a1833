"""Planning on a real (small) platform: `rexai plan-experiments` and its lab sheet round trip, and the second
vote's requested tests arriving, re-evaluated and superseding the waiting proposal."""

from __future__ import annotations

import csv
import json
from datetime import timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from rexai_assets.cli import main as rexai
from rexai_assets.contract import TARGETS, feature_names
from rexai_assets.evaluation import promotion
from rexai_assets.loop.realities import make_reality
from rexai_assets.loop.synthetic import experiment_records, fresh_recipes, utc_today, write_experiments
from rexai_assets.planning.store import TABLE, plan_progress
from rexai_assets.recipes import parse_recipe

from rexai_assets_tests.loop_support import make_platform, shrink

pytestmark = pytest.mark.slow


def fill_sheet(rows: list[dict], tables, day) -> list[dict]:
    """What the lab does: run each recipe and write the measurements (here: reality seed 1) into the sheet."""
    from rexai_assets.gold.features import featurize_recipes

    recipes = [parse_recipe(r["recipe_spec"]) for r in rows]
    measured = make_reality(1).measure(featurize_recipes(recipes, tables).reset_index(drop=True),
                                       np.random.default_rng(5))
    for i, row in enumerate(rows):
        values = {t: round(float(measured.iloc[i][t]), 6) for t in TARGETS if pd.notna(measured.iloc[i][t])}
        row.update(environment="lab", operator_id="op-7", started_at=f"{day:%Y-%m-%d}T08:00:00Z",
                   finished_at=f"{day:%Y-%m-%d}T09:00:00Z", raw_measurements=json.dumps(values), verdict="pass",
                   next_actions="")
    return rows


def plan_rows(platform, plan_id: str) -> pd.DataFrame:
    with platform.desk().connect() as con:
        return con.execute(f"SELECT * FROM {TABLE} WHERE plan_id = ? ORDER BY rank", [plan_id]).fetch_df()


def test_plan_sheet_round_trip_and_requested_tests(config_override, capsys, tmp_path):
    from rexai_assets.cli.planning import open_plan_status

    shrink(config_override)
    config_override("promotion.yaml", {"mode": "manual"})
    platform = make_platform()
    platform.bootstrap()                       # manual mode: v1 waits for a person
    with platform.desk().connect() as con:
        first = promotion.fetch_proposals(con, limit=1)[0]
    platform.desk().decide(first.proposal_id, "ana", approve=True)
    capsys.readouterr()

    sheet = tmp_path / "sheet.csv"
    assert rexai(["plan-experiments", "--n", "8", "--json", "--sheet", str(sheet)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document) == ["plan_id", "model_version", "experiments"] and document["model_version"] == "1"
    assert len(document["experiments"]) == 8 and len({e["recipe_id"] for e in document["experiments"]}) == 8
    assert {e["purpose"].split(":")[0] for e in document["experiments"]} <= {"explore", "verify", "disagreement"}
    assert open_plan_status()["plan_id"] == document["plan_id"]
    # The champion's scores of planning's pool are kept for the next plan (which then loads no model).
    assert len(list((platform.data.models / "cache" / "plan_scores").glob("*.npz"))) == 1

    with sheet.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["recipe_id"] for r in rows] == [e["recipe_id"] for e in document["experiments"]]
    with sheet.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(fill_sheet(rows, platform.tables(), utc_today() - timedelta(days=2)))
    assert rexai(["log-experiment", str(sheet)]) == 0, capsys.readouterr().err
    _, cursor = platform.ingest(None)
    assert open_plan_status() is None or open_plan_status()["plan_id"] != document["plan_id"]
    with platform.desk().connect() as con:
        assert plan_progress(con, document["plan_id"]) == (8, 8)

    # Lab results that make a challenger v2; manual mode keeps its proposal waiting for the second vote.
    tables = platform.tables()
    recipes = fresh_recipes(tables, 300, seed=505, exclude=platform.pool_ids())
    labels = make_reality(1).measure(recipes[list(feature_names())], np.random.default_rng(6))
    write_experiments(platform.data, experiment_records(recipes, labels, utc_today() - timedelta(days=8), per_day=50))
    _, cursor = platform.ingest(cursor)
    assert platform.execute(platform.retrain_tick()).success
    with platform.desk().connect() as con:
        waiting = promotion.fetch_proposals(con, limit=1)[0]
    assert waiting.challenger_version == "2" and waiting.status in (promotion.PENDING, promotion.REJECTED)
    if waiting.status == promotion.REJECTED:
        pytest.skip(f"challenger v2 was rejected ({waiting.summary()}); nothing to request tests for")

    assert rexai(["approve", waiting.proposal_id, "--reviewer", "ana", "--request-tests", "5"]) == 0
    with platform.desk().connect() as con:
        tests = con.execute(f"SELECT plan_id FROM {TABLE} WHERE proposal_id = ?", [waiting.proposal_id]).fetch_df()
    plan_id = tests["plan_id"].iloc[0]
    assert len(tests) == 5 and set(plan_rows(platform, plan_id)["purpose"]) == {"disagreement"}
    result, _ = platform.tick("requested_tests_sensor")
    assert isinstance(result, dg.SkipReason)   # nothing measured yet

    rows = [{"experiment_id": f"req-{i}", "recipe_id": r["recipe_id"], "process_id": json.loads(r["recipe"])["process_id"],
             "recipe_spec": r["recipe"]} for i, r in enumerate(plan_rows(platform, plan_id).to_dict("records"))]
    done = pd.DataFrame(fill_sheet(rows, tables, utc_today() - timedelta(days=1)))
    for column in ("started_at", "finished_at"):
        done[column] = pd.to_datetime(done[column])
    write_experiments(platform.data, done)
    platform.ingest(cursor)
    result, _ = platform.tick("requested_tests_sensor")
    (request,) = result
    assert request.job_name == "reevaluate_job" and request.tags["rexai/proposal"] == waiting.proposal_id
    assert platform.execute(request).success
    with platform.desk().connect() as con:
        old = promotion.fetch_proposals(con, waiting.proposal_id)[0]
        new = promotion.fetch_proposals(con, limit=1)[0]
        log = promotion.audit_log(con)
    assert old.status == promotion.SUPERSEDED and new.challenger_version == "2" and new.trigger == "requested_tests"
    assert list(log[log["proposal_id"] == waiting.proposal_id]["action"]) == ["request_tests", "tests_arrived", "supersede"]
