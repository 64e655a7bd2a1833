"""The active-learning benchmark, reduced to two rounds: planned experiments beat random ones on the mean of
both measures (holdout MAE against reality, and the top recommendations' regret in reality)."""

from __future__ import annotations

import numpy as np
import pytest

from rexai_assets.planning.bench import normalised_mae, run_benchmark

pytestmark = pytest.mark.slow


def test_two_rounds_planned_beats_random(data_root):
    result = run_benchmark(rounds=2, per_round=50, bootstrap=150, random_factor=1, seed=1, small=True,
                           strategies=("planned", "random"))
    curves, scale = result["curves"], result["target_scale"]

    def mean_over_rounds(strategy: str) -> tuple[float, float]:
        rows = [r for r in curves[strategy] if r["round"] > 0]
        return (float(np.mean([normalised_mae(r, scale) for r in rows])),
                float(np.mean([np.mean(list(r["regret"].values())) for r in rows])))

    planned, random = mean_over_rounds("planned"), mean_over_rounds("random")
    assert planned[0] < random[0], ("MAE", planned, random)
    assert planned[1] < random[1], ("regret", planned, random)
    assert (data_root / "benchmarks" / "planning" / "learning_curve.png").stat().st_size > 0
