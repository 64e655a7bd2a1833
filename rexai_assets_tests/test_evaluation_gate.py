"""The first vote: forced PROMOTE / REVIEW / REJECT cases on hand-made metrics and predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rexai_assets.evaluation import gate

TARGETS = ("rigidity", "energy_kwh")


def thresholds(**changes) -> gate.QualityThresholds:
    base = dict(max_relative_regression={"rigidity": 0.02, "energy_kwh": 0.02}, coverage_test_level=0.01,
                max_width_increase=0.10, min_improvement_for_promote=0.01, min_measured_golden_rows=20,
                required_slices=("simulated",), min_rows_per_target=5)
    base.update(changes)
    return gate.QualityThresholds(**base)


def metrics(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([{"model": m, "split": "golden", "slice": s, "target": t, "n": n, "mae": mae, "rmse": mae,
                          "coverage": cov, "mean_width": width} for m, s, t, n, mae, cov, width in rows])


def both(model: str, rigidity: float, energy: float, slice_name: str = "simulated", n: int = 100, cov: float = 0.95,
         width: float = 1.0):
    return [(model, slice_name, "rigidity", n, rigidity, cov, width), (model, slice_name, "energy_kwh", n, energy, cov, width)]


def test_clear_improvement_is_promote():
    decision = gate.decide(metrics(both("challenger", 0.09, 0.08) + both("champion", 0.10, 0.10)), TARGETS, thresholds())
    assert decision.recommendation == gate.PROMOTE and decision.baseline == "champion"
    assert decision.improvement == pytest.approx((0.1 + 0.2) / 2)
    assert all(c.passed for c in decision.criteria)
    assert 0 < decision.confidence < 1


def test_small_improvement_is_review():
    decision = gate.decide(metrics(both("challenger", 0.0999, 0.1) + both("champion", 0.1, 0.1)), TARGETS, thresholds())
    assert decision.recommendation == gate.REVIEW


def test_regression_beyond_bound_is_reject_with_numbers():
    decision = gate.decide(metrics(both("challenger", 0.05, 0.0850) + both("champion", 0.10, 0.0810)), TARGETS, thresholds())
    assert decision.recommendation == gate.REJECT
    [failed] = decision.failed
    assert failed.detail == "energy_kwh MAE 0.085 > 0.08262 (simulated, n=100; champion 0.081 +2%)"


def test_poor_coverage_is_reject():
    rows = both("challenger", 0.05, 0.05, cov=0.7) + both("champion", 0.1, 0.1)
    decision = gate.decide(metrics(rows), TARGETS, thresholds())
    assert decision.recommendation == gate.REJECT
    assert {c.name for c in decision.failed} == {"rigidity interval coverage", "energy_kwh interval coverage"}


def test_without_champion_the_heuristic_is_the_bar():
    good = gate.decide(metrics(both("challenger", 0.05, 0.05) + both("heuristic", 0.2, 0.2)), TARGETS, thresholds(),
                       champion=None)
    assert good.recommendation == gate.PROMOTE and good.baseline == "heuristic"
    bad = gate.decide(metrics(both("challenger", 0.05, 0.3) + both("heuristic", 0.2, 0.2)), TARGETS, thresholds(),
                      champion=None)
    assert bad.recommendation == gate.REJECT and bad.failed[0].name == "energy_kwh beats heuristic"


def test_measured_slice_decides_and_the_simulator_no_longer_votes():
    # The challenger learned reality: 73 % better on measured rows, far from the simulator. That is
    # what learning looks like, not a regression: the simulated slice is reported without a vote.
    rows = (both("challenger", 0.027, 0.027, "measured", n=40) + both("champion", 0.10, 0.10, "measured", n=40)
            + both("heuristic", 0.2, 0.2, "measured", n=40)
            + both("challenger", 0.30, 0.30) + both("champion", 0.05, 0.05) + both("heuristic", 0.2, 0.2))
    decision = gate.decide(metrics(rows), TARGETS, thresholds())
    assert decision.deciding_slices == {"rigidity": "measured", "energy_kwh": "measured"}
    assert decision.recommendation == gate.PROMOTE, [c.detail for c in decision.failed]
    assert decision.deltas["rigidity"]["simulated_mae"] == pytest.approx(0.30)
    assert decision.improvement == pytest.approx(0.73)


def test_guards_judge_on_the_measured_rows_too():
    # Better than the champion but worse than the rules of thumb on reality: a broken challenger.
    rows = (both("challenger", 0.15, 0.08, "measured", n=40) + both("champion", 0.30, 0.10, "measured", n=40)
            + both("heuristic", 0.12, 0.2, "measured", n=40) + both("challenger", 0.1, 0.1) + both("champion", 0.1, 0.1))
    decision = gate.decide(metrics(rows), TARGETS, thresholds())
    assert decision.recommendation == gate.REJECT
    assert [c.name for c in decision.failed] == ["rigidity beats heuristic"]
    assert "measured, n=40" in decision.failed[0].detail


def test_coverage_is_a_statistical_question():
    # 40 measured rows: full coverage is no evidence of a problem; 30 of 40 is.
    def decide(cov: float):
        rows = (both("challenger", 0.05, 0.05, "measured", n=40, cov=cov) + both("champion", 0.1, 0.1, "measured", n=40)
                + both("challenger", 0.1, 0.1) + both("champion", 0.1, 0.1))
        return gate.decide(metrics(rows), TARGETS, thresholds())

    assert decide(1.0).recommendation == gate.PROMOTE
    assert decide(0.925).recommendation == gate.PROMOTE
    low = decide(0.75)
    assert low.recommendation == gate.REJECT
    assert {c.name for c in low.failed} == {"rigidity interval coverage", "energy_kwh interval coverage"}
    assert "on 40 rows (95% CI" in low.failed[0].detail and "significantly below nominal" in low.failed[0].detail


def test_wider_intervals_than_the_champion_need_a_reason():
    def decide(champion_coverage: float):
        rows = (both("challenger", 0.05, 0.05, "measured", n=100, width=1.5)
                + both("champion", 0.1, 0.1, "measured", n=100, width=1.0, cov=champion_coverage)
                + both("challenger", 0.1, 0.1) + both("champion", 0.1, 0.1))
        return gate.decide(metrics(rows), TARGETS, thresholds())

    wide = decide(0.95)
    assert wide.recommendation == gate.REJECT
    assert {c.name for c in wide.failed} == {"rigidity interval width", "energy_kwh interval width"}
    assert "1.5 > 1.1" in wide.failed[0].detail
    # The champion's intervals held only 60 % of reality: wider ones are an honest fix.
    fixed = decide(0.60)
    assert fixed.recommendation == gate.PROMOTE, [c.detail for c in fixed.failed]


def test_few_measured_rows_do_not_decide():
    rows = (both("challenger", 0.01, 0.01, "measured", n=10) + both("champion", 0.10, 0.10, "measured", n=10)
            + both("challenger", 0.10, 0.10) + both("champion", 0.10, 0.10))
    decision = gate.decide(metrics(rows), TARGETS, thresholds())
    assert decision.deciding_slices["rigidity"] == "simulated" and decision.recommendation == gate.REVIEW


def test_missing_required_slice_is_reject():
    rows = both("challenger", 0.08, 0.08, "measured", n=40) + both("champion", 0.10, 0.10, "measured", n=40)
    decision = gate.decide(metrics(rows), TARGETS, thresholds())
    assert decision.recommendation == gate.REJECT
    assert decision.failed[0].name == "slice simulated evaluated"


def test_slice_metrics_per_target_with_masks():
    truth = pd.DataFrame({"split": ["golden"] * 4, "slice": ["simulated", "simulated", "measured", "measured"],
                          "rigidity": [0.5, 0.7, 0.2, np.nan], "energy_kwh": [1.0, np.nan, 2.0, 4.0]})
    predictions = {"rigidity": {"value": np.array([0.6, 0.7, 0.1, 9.0]), "lo": np.zeros(4), "hi": np.full(4, 0.65)},
                   "energy_kwh": {"value": np.array([1.5, 0.0, 2.0, 3.0]), "lo": np.full(4, 1.0), "hi": np.full(4, 3.0)}}
    table = gate.slice_metrics("m", predictions, truth, TARGETS).set_index(["slice", "target"])
    assert table.loc[("simulated", "rigidity"), "n"] == 2
    assert table.loc[("simulated", "rigidity"), "mae"] == pytest.approx(0.05)
    assert table.loc[("simulated", "rigidity"), "coverage"] == pytest.approx(0.5)
    assert table.loc[("measured", "rigidity"), "n"] == 1  # the NaN label (and its wild prediction) is masked
    assert table.loc[("measured", "energy_kwh"), "mae"] == pytest.approx(0.5)
    assert table.loc[("measured", "energy_kwh"), "coverage"] == pytest.approx(0.5)
    assert table.loc[("simulated", "energy_kwh"), "rmse"] == pytest.approx(0.5)


def test_evaluation_check_flags_models_scored_on_different_rows():
    from rexai_assets.evaluation.assets import same_rows_for_every_model

    even = metrics(both("challenger", 0.1, 0.1) + both("champion", 0.1, 0.1))
    assert same_rows_for_every_model(gate.EvaluationReport(even, "2", "1")).passed
    uneven = metrics(both("challenger", 0.1, 0.1) + both("champion", 0.1, 0.1, n=90))
    result = same_rows_for_every_model(gate.EvaluationReport(uneven, "2", "1"))
    assert not result.passed
    assert result.metadata["uneven"].value == ["simulated/energy_kwh: {'challenger': 100, 'champion': 90}",
                                               "simulated/rigidity: {'challenger': 100, 'champion': 90}"]
