"""Planning's plain functions: acquisition scores, the diverse pick, quotas, the plan store and the sheet."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rexai_assets.planning import acquisition as acq
from rexai_assets.planning import store
from rexai_assets.warehouse import WarehouseClient


def test_nearest_distance_matches_brute_force_across_blocks():
    rng = np.random.default_rng(0)
    Z, ref = rng.normal(size=(acq.BLOCK + 37, 4)), rng.normal(size=(50, 4))
    brute = np.sqrt(((Z[:, None, :] - ref[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    assert np.allclose(acq.nearest_distance(Z, ref), brute)
    assert np.isinf(acq.nearest_distance(Z[:3], ref[:0])).all()


def test_explore_uncertainty_is_the_committee_spread_where_there_is_one_else_the_interval():
    pred = {"a": {"value": np.array([0.5, 0.5]), "lo": np.array([0.4, 0.45]), "hi": np.array([0.6, 0.55])},
            "b": {"value": np.array([10.0, 10.0]), "lo": np.array([9.0, 0.0]), "hi": np.array([11.0, 20.0])}}
    scales = {"a": 0.1, "b": 10.0}
    # row 0: (0.2/0.1 + 2/10)/2 = 1.1; row 1: (0.1/0.1 + 20/10)/2 = 1.5
    assert acq.explore_uncertainty(pred, scales, None, None) == pytest.approx([1.1, 1.5])
    # A committee for "b" only (served values' sd 1 on its scale): b's term becomes its spread.
    spread, served = np.array([[0.0, 0.4], [0.0, 0.1]]), np.array([[0.0, 1.0], [0.0, 3.0]])
    assert acq.explore_uncertainty(pred, scales, spread, served) == pytest.approx([(2.0 + 0.4) / 2, (1.0 + 0.1) / 2])


def test_coverage_pick_covers_where_uncertain_recipes_are_not_the_outlier():
    rng = np.random.default_rng(0)
    # Two clusters of equally uncertain recipes (one measured already, one not) and a far outlier.
    near_measured, open_cluster = rng.normal(0, 0.1, (40, 2)), rng.normal(5, 0.1, (40, 2))
    Z = np.vstack([near_measured, open_cluster, [[30.0, -30.0]]])
    chosen = acq.coverage_pick(np.ones(len(Z)), Z, 2, np.arange(len(Z)), np.zeros((1, 2)), 0.5)
    positions = [i for i, _ in chosen]
    assert 40 <= positions[0] < 80                      # the open cluster first, not the outlier
    assert all(g > 0 for _, g in chosen) and chosen[0][1] >= chosen[1][1]
    # Weights steer it: where nothing is uncertain, covering is worth nothing.
    w = np.r_[np.ones(40), np.zeros(40), 1.0]
    assert acq.coverage_pick(w, Z, 1, np.arange(len(Z)), np.zeros((1, 2)), 0.5)[0][0] == 80
    # No pick within min_distance of a covered recipe or of another pick.
    picks = [i for i, _ in acq.coverage_pick(np.ones(len(Z)), Z, 5, np.arange(len(Z)), np.zeros((1, 2)), 0.5)]
    assert min(np.linalg.norm(Z[i] - Z[j]) for i in picks for j in picks if i != j) >= 0.5
    assert acq.nearest_distance(Z[picks], np.zeros((1, 2))).min() >= 0.5


def test_disagreement_needs_two_predictions_and_uses_scales():
    a, b = np.array([[0.0, 0.0], [1.0, 10.0]]), np.array([[0.0, 0.0], [0.0, 0.0]])
    assert acq.disagreement_scores([a, b], {"x": 1.0, "y": 10.0}) == pytest.approx([0.0, 0.5])
    with pytest.raises(ValueError):
        acq.disagreement_scores([a], {"x": 1.0, "y": 1.0})


def test_quotas_sum_to_total_by_largest_remainder():
    assert acq.quotas(10, {"explore": 0.5, "verify": 0.3, "disagreement": 0.2}) == {
        "explore": 5, "verify": 3, "disagreement": 2}
    q = acq.quotas(7, {"a": 1, "b": 1, "c": 1})
    assert sum(q.values()) == 7 and sorted(q.values()) == [2, 2, 3]


def test_diverse_pick_keeps_min_distance_and_skips_ineligible():
    # Three near-duplicates with the best scores, one far recipe, one ineligible best.
    Z = np.array([[0.0, 0.0], [0.01, 0.0], [0.0, 0.02], [3.0, 3.0], [6.0, 6.0]])
    scores = np.array([0.9, 0.95, 0.93, 0.5, 1.0])
    eligible = np.array([True, True, True, True, False])
    picked: list[int] = []
    chosen = acq.diverse_pick(scores, Z, 3, 0.5, picked, eligible, shortlist=10)
    assert chosen == [1, 3] and picked == [1, 3]   # only two recipes are far enough apart
    # Without a minimum distance it is plain top-k, never the same recipe twice.
    assert acq.diverse_pick(scores, Z, 3, 0.0, [], eligible, shortlist=10) == [1, 2, 0]


def test_store_marks_planned_rows_measured_and_reports_the_open_plan(tmp_path: Path):
    client = WarehouseClient(tmp_path / "w.duckdb")
    experiments = [store.PlannedExperiment(f"R-{i}", {"items": [], "process_id": "P01", "regolith_frac": 0.0},
                                           "explore", 0.5, {}) for i in range(3)]
    plan = store.Plan("PL-1", "4", store.now_utc(), experiments, "sha")
    assert store.open_plan_status(client) is None
    with client.transaction() as con:
        store.insert_plan(con, plan)
        assert store.planned_ids(con) == {"R-0", "R-1", "R-2"}
        assert store.sync_measured(con) == 0   # no observations table yet
        con.execute("CREATE SCHEMA observations; CREATE TABLE observations.experiment_runs (recipe_id VARCHAR)")
        con.execute("INSERT INTO observations.experiment_runs VALUES ('R-1'), ('R-9')")
    assert store.open_plan_status(client) == {"plan_id": "PL-1", "model_version": "4", "planned": 3, "measured": 1}
    with client.transaction() as con:
        assert store.sync_measured(con) == 0  # already marked: one place, idempotent
        assert store.planned_ids(con) == {"R-0", "R-2"} and store.plan_progress(con, "PL-1") == (3, 1)
        con.execute("INSERT INTO observations.experiment_runs VALUES ('R-0'), ('R-2')")
    assert store.open_plan_status(client) is None   # everything measured: no open plan


def test_plan_metadata_shows_the_planning_benchmarks_plots_once_they_have_run(tmp_path: Path):
    from rexai_assets.planning.report import plan_metadata
    from rexai_assets.planning.service import BENCHMARK_FOLDER, CEILING_PLOT, LEARNING_CURVE

    recipe = {"items": [], "process_id": "P01", "regolith_frac": 0.0}
    plan = store.Plan("PL-2", "3", store.now_utc(), [store.PlannedExperiment("R-1", recipe, "explore", 1.0, {})], "s")
    meta = plan_metadata(plan, tmp_path)
    assert meta["experiments"] == 1 and "learning_curve" not in meta and "ceiling" not in meta
    png = b"\x89PNG\r\n\x1a\n-plot"
    (tmp_path / BENCHMARK_FOLDER).mkdir(parents=True)
    for name in (LEARNING_CURVE, CEILING_PLOT):
        (tmp_path / BENCHMARK_FOLDER / name).write_bytes(png)
    meta = plan_metadata(plan, tmp_path)
    for key in ("learning_curve", "ceiling"):
        assert meta[key].value.startswith("![") and "data:image/png;base64,iVBORw0KGgotcGxvdA==" in meta[key].value


def test_lab_sheet_rows_are_experiment_records_with_identity_only():
    from rexai_assets.planning.report import SHEET_COLUMNS, lab_sheet

    recipe = {"recipe_id": "R-1", "items": [{"waste_id": "W001", "mass_frac": 1.0}], "process_id": "P01",
              "regolith_frac": 0.1}
    plan = store.Plan("PL-9", "2", store.now_utc(), [store.PlannedExperiment("R-1", recipe, "explore", 1.0, {})], "s")
    (row,) = lab_sheet(plan)
    assert list(row) == list(SHEET_COLUMNS)
    assert row["experiment_id"] == "PL-9-001" and row["recipe_id"] == "R-1" and row["process_id"] == "P01"
    assert json.loads(row["recipe_spec"]) == recipe
    assert all(row[c] == "" for c in ("raw_measurements", "started_at", "finished_at", "verdict", "environment"))
    doc = plan.document()
    assert list(doc) == ["plan_id", "model_version", "experiments"]
    assert list(doc["experiments"][0]) == ["recipe_id", "recipe", "purpose", "acquisition", "prediction"]


def test_paired_comparison_differences_by_reality_with_a_t_interval():
    from scipy.stats import t as student_t

    from rexai_assets.planning.bench import comparison_lines, paired_comparison

    def row(budget, mae, regret):
        return {"budget": budget, "mae": dict(zip("ab", mae)), "regret": dict(zip("PQ", regret))}

    scale = {"a": 1.0, "b": 2.0}
    start = row(0, (1.0, 2.0), (0.5, 0.1))
    runs = [{"planned": [start, row(50, (0.8, 1.6), (0.2, 0.1))],
             "random": [start, row(50, (0.9, 1.6), (0.3, 1.1)), row(100, (0.7, 1.4), (0.2, 0.1))]},
            {"planned": [start, row(50, (0.7, 1.8), (0.2, 0.3))],
             "random": [start, row(50, (0.9, 1.6), (0.3, 0.1))]}]
    (at50,) = paired_comparison(runs, [scale, scale])   # 0 is the shared start; 100 only random reached
    assert at50["budget"] == 50 and at50["realities"] == 2
    # Normalised MAE: (0.8 + 0.8) / 2 - (0.9 + 0.8) / 2 = -0.05 in both realities, so a zero-width interval.
    assert at50["mae"] == pytest.approx({"mean_difference": -0.05, "ci_low": -0.05, "ci_high": -0.05, "pairs": 4,
                                         "better": 2, "worse": 1})
    # Mean regret: 0.15 - 0.7 = -0.55 and 0.25 - 0.2 = +0.05; per preset P better twice, Q better once, worse once.
    half = student_t.ppf(0.975, 1) * np.std([-0.55, 0.05], ddof=1) / np.sqrt(2)
    assert at50["regret"] == pytest.approx({"mean_difference": -0.25, "ci_low": -0.25 - half, "ci_high": -0.25 + half,
                                            "pairs": 4, "better": 3, "worse": 1})
    assert comparison_lines([at50])[0].startswith("planned - random at 50 (2 realities, 95 % t-interval): MAE / sd -0.0500")
