"""The ceiling of experiment choice (`python -m rexai_assets.planning.ceiling`), reduced: one reality, a small pool."""

import json

import numpy as np
import pytest

from rexai_assets.contract import TARGETS
from rexai_assets.planning import ceiling
from rexai_assets.planning.bench import normalised_mae
from rexai_assets.planning.service import CEILING_PLOT, benchmark_plot


def test_matching_budget_interpolates_random_rounds():
    rows = [{"budget": b, "mae": {"a": e}} for b, e in ((0, 0.4), (50, 0.3), (100, 0.2))]
    assert ceiling.matching_budget(rows, 0.25, {"a": 1.0}) == pytest.approx(75.0)
    assert ceiling.matching_budget(rows, 0.3, {"a": 1.0}) == pytest.approx(50.0)
    assert ceiling.matching_budget(rows, 0.5, {"a": 1.0}) == 0.0      # no worse than the start
    assert ceiling.matching_budget(rows, 0.1, {"a": 1.0}) is None     # beyond the last random round


def test_every_strategy_starts_alike_measures_new_recipes_and_is_judged_by_goal_1(tmp_path):
    result = ceiling.run_ceiling((1,), rounds=1, per_round=20, bootstrap=40, random_factor=2, pool_size=600,
                                 out_root=tmp_path)
    reality = result["realities"][1]
    curves, scale = reality["curves"], reality["scale"]
    assert set(curves) == set(ceiling.CEILING_STRATEGIES)
    assert [r["budget"] for r in curves["random"]] == [0, 20, 40]
    for strategy, rows in curves.items():
        assert rows[0]["mae"] == curves["random"][0]["mae"]                 # one bootstrap, one correction
        assert [r["measured"] for r in rows] == [40 + r["budget"] for r in rows]  # never a recipe twice
        assert rows[1]["mae"] != rows[0]["mae"] and all(np.isfinite(list(rows[1]["mae"].values())))
    for strategy in ("committee", "oracle", "oracle_top"):
        goal, final = reality["goal"][strategy], curves[strategy][1]
        assert goal["mae_within_10pct"] == {t: final["mae"][t] <= 1.10 * curves["random"][2]["mae"][t] for t in TARGETS}
        worth = goal["random_budget_matched"]
        if worth is None:
            assert normalised_mae(final, scale) < normalised_mae(curves["random"][2], scale)
        else:
            random_curve = [normalised_mae(r, scale) for r in curves["random"]]
            assert np.interp(worth, [0, 20, 40], random_curve) == pytest.approx(normalised_mae(final, scale), abs=1e-9)
            assert goal["efficiency"] == pytest.approx(worth / 20)
    saved = json.loads((tmp_path / "benchmarks" / "planning" / "ceiling.json").read_text())
    assert saved["summary"]["oracle"]["targets_within"] == [reality["goal"]["oracle"]["targets_within"]]
    assert saved["summary"]["oracle"]["efficiency_ci"] == [None, None]   # one reality: no interval
    assert benchmark_plot(tmp_path, CEILING_PLOT).startswith(b"\x89PNG")   # what `experiment_plan` shows
