"""The closed loop, in process: files land in the inbox, sensors tick, runs execute, models get better
from real observations and never worse from poisoned ones."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from rexai_assets.evaluation.promotion import fetch_proposals
from rexai_assets.gold.contract import TARGETS, feature_names
from rexai_assets.gold.contract import SimulatorNoise
from rexai_assets.gold.simulator import simulate
from rexai_assets.loop.realities import make_reality
from rexai_assets.loop.synthetic import (experiment_records, feedback_records, fresh_recipes, noisy_labels,
                                         utc_today, write_experiments, write_feedback)

from rexai_assets_tests.loop_support import make_platform, mae_per_target, shrink

pytestmark = pytest.mark.slow


NO_NOISE = SimulatorNoise(rigidity_logit=0, tightness_logit=0, energy_rel=0, water_abs=0, crew_rel=0)


def simulator_truth(features: pd.DataFrame) -> pd.DataFrame:
    return simulate(features, seed=0, noise=NO_NOISE).reset_index(drop=True)


def lab_truth(features: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """A lab reality with its own structure (loop/realities.py), not a perturbation of the simulator."""
    return make_reality(seed).truth(features).reset_index(drop=True)


def poisoned(labels: pd.DataFrame) -> pd.DataFrame:
    """A corrupted feedback batch: rigidity and tightness swapped, energy ten times too high."""
    bad = labels.copy()
    bad["rigidity"], bad["tightness"] = labels["tightness"].to_numpy(), labels["rigidity"].to_numpy()
    bad["energy_kwh"] = labels["energy_kwh"] * 10
    return bad


def latest_proposal(platform):
    with platform.desk().connect() as con:
        return fetch_proposals(con, limit=1)[0]


def test_inbox_buffers_below_threshold_then_exactly_one_retrain(config_override):
    shrink(config_override)
    platform = make_platform()
    platform.bootstrap()
    assert platform.champion() == "1"
    recipes = fresh_recipes(platform.tables(), 60, seed=101, exclude=platform.pool_ids())
    labels = noisy_labels(simulator_truth(recipes[list(feature_names())]), seed=1)
    first_day = utc_today() - timedelta(days=5)

    write_experiments(platform.data, experiment_records(recipes.head(30), labels.head(30), first_day, per_day=15))
    steps, cursor = platform.ingest(None)
    assert [s.partition for s in steps] == [f"{first_day + timedelta(days=d):%Y-%m-%d}" for d in (0, 1)]
    skip = platform.retrain_tick()
    assert isinstance(skip, dg.SkipReason) and skip.skip_message == "30 new labelled rows < 40"
    assert platform.ingest(cursor)[0] == []  # nothing new: each file is processed once

    write_experiments(platform.data, experiment_records(recipes.tail(30), labels.tail(30),
                                                         first_day + timedelta(days=2), per_day=30, prefix="exp-b"))
    # These 30 rows make 60 with the 30 waiting: the inbox sensor asks for one run that ingests and retrains.
    result, _ = platform.tick("inbox_sensor", cursor)
    (request,) = result.run_requests
    assert request.job_name == "ingest_and_retrain_job" and request.partition_key == f"{first_day + timedelta(days=2):%Y-%m-%d}"
    assert {k: request.tags[k] for k in ("rexai/trigger", "rexai/count_new_rows", "rexai/retrain")} == {
        "rexai/trigger": "new_observations", "rexai/count_new_rows": "60", "rexai/retrain": "true"}

    outcome = platform.execute(request)
    assert outcome.success and not outcome.failed_checks, outcome.line()
    assert {"experiment_runs", "gold_dataset", "rexai_regressor", "promotion_proposal"} <= set(outcome.materialized)
    proposal = latest_proposal(platform)
    assert proposal.challenger_version == "2" and proposal.champion_version == "1"
    assert proposal.trigger == "new_observations" and proposal.dagster_run_id == outcome.run_id
    expected_champion = "2" if proposal.recommendation == "PROMOTE" else "1"
    assert platform.champion() == expected_champion
    after = platform.retrain_tick()
    assert isinstance(after, dg.SkipReason) and after.skip_message.startswith("0 new labelled rows")


def test_poisoned_feedback_before_any_lab_data_is_a_reject_decision(config_override, capsys):
    """Through `rexai run`: the run completes (exit 0), the challenger gets a REJECT with its reasons, and the
    champion, bundle and recommendations stay as they were."""
    from rexai_assets.cli import main

    shrink(config_override)
    platform = make_platform()
    platform.bootstrap()
    bundles = sorted(p.name for p in platform.data.bundles.glob("*.zip"))
    recipes = fresh_recipes(platform.tables(), 200, seed=202, exclude=platform.pool_ids())
    truth = simulator_truth(recipes[list(feature_names())])
    write_feedback(platform.data, feedback_records(recipes, poisoned(truth), utc_today() - timedelta(days=1)))
    capsys.readouterr()
    assert main(["run"]) == 0
    out = capsys.readouterr().out
    proposal = latest_proposal(platform)
    assert proposal.challenger_version == "2" and proposal.recommendation == "REJECT"
    failed = [c["detail"] for c in proposal.criteria if not c["passed"]]
    assert failed and f"decision: challenger v2 REJECTED: {failed[0]}" in out, out
    assert platform.champion() == "1"
    assert sorted(p.name for p in platform.data.bundles.glob("*.zip")) == bundles


def test_champion_learns_a_lab_reality_and_refuses_poison_afterwards(config_override):
    shrink(config_override)
    platform = make_platform()
    platform.bootstrap()
    bootstrap_model = platform.load_version("1")
    tables = platform.tables()
    pool = platform.pool_ids()
    recipes = fresh_recipes(tables, 900, seed=303, exclude=pool)
    lab, unseen = recipes.head(600), recipes.tail(300).reset_index(drop=True)
    lab_labels = make_reality(1).measure(lab[list(feature_names())], np.random.default_rng(3))
    write_experiments(platform.data, experiment_records(lab, lab_labels, utc_today() - timedelta(days=12), per_day=50))
    steps, cursor = platform.ingest(None)
    assert len(steps) == 12
    request = platform.retrain_tick()
    assert isinstance(request, dg.RunRequest) and request.tags["rexai/count_new_rows"] == "600"
    assert platform.execute(request).success
    proposal = latest_proposal(platform)
    assert proposal.recommendation == "PROMOTE", [c["detail"] for c in proposal.criteria if not c["passed"]]
    assert platform.champion() == "2"

    features = unseen[list(feature_names())]
    truth = lab_truth(features)
    before = mae_per_target(bootstrap_model, features, truth)
    after = mae_per_target(platform.load_version("2"), features, truth)
    halved = [t for t in TARGETS if after[t] < 0.5 * before[t]]
    assert len(halved) >= 4, {t: (round(before[t], 4), round(after[t], 4)) for t in TARGETS}

    # Now that lab data decides, a poisoned crew batch must still be refused.
    crew = fresh_recipes(tables, 200, seed=404, exclude=pool | set(recipes["recipe_id"]))
    crew_truth = lab_truth(crew[list(feature_names())])
    write_feedback(platform.data, feedback_records(crew, poisoned(crew_truth), utc_today() - timedelta(days=1)))
    platform.ingest(cursor)
    request = platform.retrain_tick()
    assert isinstance(request, dg.RunRequest)
    assert platform.execute(request).success
    proposal = latest_proposal(platform)
    assert proposal.challenger_version == "3" and proposal.recommendation == "REJECT"
    assert platform.champion() == "2"
