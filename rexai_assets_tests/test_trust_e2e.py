"""Trust you can see, in process: a served prediction is logged, the recipe is measured and ingested, the
ledger joins the measurement to the served prediction, and the history shows the champion's error."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import duckdb
import numpy as np
import pytest

from rexai_assets.gold.contract import TARGETS, feature_names
from rexai_assets.loop.realities import make_reality
from rexai_assets.loop.synthetic import experiment_records, fresh_recipes, write_experiments
from rexai_assets.ops.pipeline import run_job

from rexai_assets_tests.loop_support import make_platform, shrink

pytestmark = pytest.mark.slow


def test_served_prediction_measured_ingested_ledgered_and_in_the_history(config_override, tmp_path, capsys):
    from rexai_assets.cli import main

    shrink(config_override)
    platform = make_platform()
    platform.bootstrap()
    assert platform.champion() == "1"
    recipes = fresh_recipes(platform.tables(), 3, seed=515, exclude=platform.pool_ids())
    served, unserved = recipes.head(2), recipes.tail(1)
    path = tmp_path / "recipes.json"
    path.write_text(json.dumps([json.loads(s) for s in served["recipe_spec"]]))
    capsys.readouterr()
    assert main(["predict", str(path), "--json"]) == 0
    predicted = {e["recipe_id"]: e for e in json.loads(capsys.readouterr().out)}
    assert {e["model_version"] for e in predicted.values()} == {"1"}

    labels = make_reality(1).measure(recipes[list(feature_names())], np.random.default_rng(5))
    observed = datetime.now(timezone.utc)
    records = experiment_records(recipes, labels, observed, per_day=10)
    # Finished after the predictions were logged (the ledger's condition) and seconds apart, so all three stay in
    # today's partition: ten minutes apart, the third finished tomorrow when the test ran after 23:40 UTC, and
    # a partition of tomorrow is not ingested today.
    records["finished_at"] = [observed + timedelta(seconds=i) for i in range(len(records))]
    records["started_at"] = records["finished_at"] - timedelta(minutes=45)
    write_experiments(platform.data, records)
    steps, _ = platform.ingest(None)
    assert len(steps) == 1 and steps[0].success
    outcome = run_job(platform.defs, "ledger_job", platform.instance)
    assert outcome.success and outcome.materialized == ["learning_history", "prediction_ledger"], outcome.line()

    with duckdb.connect(str(platform.data.warehouse), read_only=True) as con:
        ledger = con.execute("SELECT * FROM registry.prediction_ledger ORDER BY observation_id, target").df()
        commands = dict(con.execute("SELECT command, count(*) FROM registry.inference_log GROUP BY 1").fetchall())
    assert commands["predict"] == 2 and commands["recipe_recommendations"] > 0   # compacted by the ingestion run
    by_recipe = {r: ledger[ledger["recipe_id"] == r] for r in recipes["recipe_id"]}
    for recipe_id in served["recipe_id"]:
        rows = by_recipe[recipe_id]
        assert set(rows["prediction_source"]) == {"inference_log"} and set(rows["model_version"]) == {"1"}
        assert set(rows["target"]) == set(TARGETS)
        for row in rows.itertuples():
            assert row.predicted == pytest.approx(predicted[recipe_id]["prediction"][row.target]["value"])
            assert row.error == pytest.approx(row.predicted - row.measured)
            assert row.inside_interval == (row.predicted_lo <= row.measured <= row.predicted_hi)
            assert (row.label_source, row.environment, row.verdict) == ("lab", "lab", "pass")
    (unserved_id,) = unserved["recipe_id"]
    assert set(by_recipe[unserved_id]["prediction_source"]) == {"computed_at_ingestion"}
    assert set(by_recipe[unserved_id]["model_version"]) == {"1"}

    assert main(["history", "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    assert set(history) == {"versions", "retrains"}
    (version,) = history["versions"]
    assert (version["version"], version["to"]) == ("1", None) and version["from"]
    rigidity = version["targets"]["rigidity"]
    errors = ledger.loc[ledger["target"] == "rigidity", "error"].abs()
    assert rigidity["n"] == 3 and rigidity["mae"] == pytest.approx(errors.mean())
    assert history["retrains"][0]["challenger_version"] == "1" and history["retrains"][0]["recommendation"] == "PROMOTE"

    # the measurement is served at once, beside the prediction, without a retrain
    assert main(["predict", str(path), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert all(set(e["measured"]) == set(TARGETS) and e["measured"]["rigidity"]["n"] == 1 for e in again)
