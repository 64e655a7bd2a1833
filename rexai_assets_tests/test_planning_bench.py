"""The active-learning benchmark, reduced: one reality the platform does not control, planned against random lab
experiments through the real commands (plan, label, log, ingest, retrain), with small sizes.

It checks that the comparison is fair and complete, not which strategy wins: over two rounds on five realities
the difference is within the realities' spread (README, "Planning"), so asserting a winner would assert a draw.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from rexai_assets.contract import TARGETS
from rexai_assets.planning import bench
from rexai_assets.planning.service import LEARNING_CURVE, benchmark_plot

from rexai_assets_tests.loop_support import shrink

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def test_planned_and_random_start_alike_and_are_compared_pair_by_pair(config_override, tmp_path):
    shrink(config_override)
    result = bench.run_benchmark(rounds=1, per_round=30, bootstrap=100, random_factor=2, seeds=(1,), small=False,
                                 strategies=("planned", "random"), out_root=tmp_path)
    planned, random = result["curves"][1]["planned"], result["curves"][1]["random"]
    assert [r["budget"] for r in planned] == [0, 30] and [r["budget"] for r in random] == [0, 30, 60]
    # The same bootstrap batch, noise and holdout: both strategies start from the same model and figures.
    assert planned[0]["mae"] == random[0]["mae"] and planned[0]["regret"] == random[0]["regret"]
    presets = set(planned[0]["regret"])
    assert len(presets) == 4
    for row in planned + random:
        assert set(row["mae"]) == set(TARGETS) and all(np.isfinite(v) and v > 0 for v in row["mae"].values())
        assert set(row["regret"]) == presets and all(np.isfinite(v) and v >= 0 for v in row["regret"].values())
    # 30 experiments changed what the model knows, whichever way they were chosen.
    assert planned[1]["mae"] != planned[0]["mae"] and random[1]["mae"] != planned[1]["mae"]

    (comparison,) = result["comparison"]
    assert comparison["budget"] == 30 and comparison["realities"] == 1
    scale = result["target_scale"][1]
    expected = bench.normalised_mae(planned[1], scale) - bench.normalised_mae(random[1], scale)
    assert comparison["mae"]["mean_difference"] == pytest.approx(expected)
    assert comparison["mae"]["ci_low"] is None   # one reality: no interval, said as such
    assert "[no interval from one reality]" in bench.comparison_lines([comparison])[0]
    assert comparison["mae"]["pairs"] == 5 and comparison["regret"]["pairs"] == 4
    assert comparison["regret"]["better"] == sum(planned[1]["regret"][p] < random[1]["regret"][p] for p in presets)
    assert comparison["regret"]["worse"] == sum(planned[1]["regret"][p] > random[1]["regret"][p] for p in presets)
    goal = result["goals"][1]   # 30 planned against 60 random (the factor), regret at the same budget
    assert goal["planned_budget"] == 30 and goal["random_budget"] == 60
    assert goal["mae_within_10pct"] == {t: planned[1]["mae"][t] <= 1.10 * random[2]["mae"][t] for t in TARGETS}
    assert goal["random_mean_regret_same_budget"] == pytest.approx(bench.mean_regret(random[1]))

    out = tmp_path / "benchmarks" / "planning"
    assert json.loads((out / "results.json").read_text())["comparison"][0]["budget"] == 30
    assert benchmark_plot(tmp_path, LEARNING_CURVE).startswith(b"\x89PNG")   # what `experiment_plan` embeds in its metadata
