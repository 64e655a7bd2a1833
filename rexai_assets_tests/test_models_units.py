"""Plain functions of the models layer: conformal quantiles, coverage, metrics, member selection."""

import math

import numpy as np
import pytest

from rexai_assets.models.conformal import calibrate, conformal_quantile
from rexai_assets.models.config import HeuristicInterval, models_config
from rexai_assets.models.ensemble import calibration_halves, select_inverse_mae, select_nnls
from rexai_assets.models.metrics import interval_coverage, normalised_mae, regression_metrics
from rexai_assets.models.serving import heuristic_band


def test_conformal_quantile_is_the_finite_sample_rank():
    scores = np.random.default_rng(0).permutation(np.arange(1, 100, dtype=float))  # 1..99
    q, valid = conformal_quantile(scores, 0.95)
    assert valid and q == 95.0  # ceil((99 + 1) * 0.95) = 95th smallest
    q, valid = conformal_quantile(np.arange(1.0, 11.0), 0.95)
    assert not valid and q == 10.0  # 10 rows cannot certify 95 %: flagged, largest score used


def test_calibration_recovers_known_gaussian_quantile_and_coverage():
    rng = np.random.default_rng(1)
    n = 20000
    sigma = rng.uniform(0.2, 3.0, n)  # heteroscedastic, known scale
    mu = rng.normal(size=n)
    y = mu + sigma * rng.standard_normal(n)
    cal = calibrate(y[:10000], mu[:10000], sigma[:10000], 0.95)
    assert cal.valid and cal.n_calibration == 10000
    assert abs(cal.q - 1.96) < 0.06  # the 97.5 % normal quantile
    lo, hi = cal.interval(mu[10000:], sigma[10000:])
    assert abs(interval_coverage(y[10000:], lo, hi) - 0.95) < 0.01
    # Normalised scores adapt the width: wide where sigma is large.
    width = hi - lo
    assert np.corrcoef(width, sigma[10000:])[0, 1] > 0.99


def test_calibration_ignores_unlabelled_rows_and_floors_zero_spread():
    y = np.array([1.0, np.nan, 2.0, 3.0] * 10)
    mu = np.array([1.0, 5.0, 2.5, 2.0] * 10)
    sigma = np.zeros(40)  # every tree agrees: a floor keeps intervals non-degenerate
    cal = calibrate(y, mu, sigma, 0.9)
    assert cal.n_calibration == 30 and cal.sigma_floor > 0
    lo, hi = cal.interval(mu, sigma)
    assert interval_coverage(y, lo, hi) >= 0.9


def test_interval_coverage_and_metrics_on_known_values():
    y = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, np.nan])
    assert interval_coverage(y, np.zeros(11), np.full(11, 0.45)) == pytest.approx(0.5)
    m = regression_metrics(np.array([1.0, 2.0, np.nan, 4.0]), np.array([1.0, 3.0, 100.0, 2.0]))
    assert m["n"] == 3 and m["mae"] == pytest.approx(1.0) and m["rmse"] == pytest.approx(math.sqrt(5 / 3))
    assert m["r2"] == pytest.approx(1 - 5 / (((np.array([1, 2, 4]) - 7 / 3) ** 2).sum()))
    # Normalised aggregate: each target's MAE in its own train-std units, then averaged.
    agg = normalised_mae({"a": {"mae": 2.0}, "b": {"mae": 30.0}}, {"a": 4.0, "b": 60.0})
    assert agg == pytest.approx(0.5)


def test_inverse_mae_selection_keeps_only_helpful_members():
    rng = np.random.default_rng(2)
    y = rng.normal(size=500)
    good_a = y + rng.normal(scale=0.3, size=500)
    good_b = y + rng.normal(scale=0.3, size=500)  # independent errors: averaging helps
    bad = y + rng.normal(scale=3.0, size=500)
    weights = select_inverse_mae(y, {"forest": good_a, "boosting": good_b, "tab_transformer": bad}, "unbounded")
    assert set(weights) == {"forest", "boosting"}
    assert sum(weights.values()) == pytest.approx(1.0)
    nn = select_nnls(y, {"forest": good_a, "boosting": good_b, "tab_transformer": bad}, "unbounded")
    assert sum(nn.values()) == pytest.approx(1.0) and nn.get("tab_transformer", 0) < 0.1


def test_calibration_halves_are_seeded_and_disjoint():
    a = calibration_halves(101, 0.5, seed=3)
    assert a.sum() == 50 and np.array_equal(a, calibration_halves(101, 0.5, seed=3))
    assert not np.array_equal(a, calibration_halves(101, 0.5, seed=4))


def test_heuristic_band_is_documented_and_clipped():
    band = HeuristicInterval(absolute={"rigidity": 0.25}, relative=0.5)
    lo, hi = heuristic_band("rigidity", np.array([0.1, 0.9]), band)
    assert np.allclose(lo, [0.0, 0.65]) and np.allclose(hi, [0.35, 1.0])
    lo, hi = heuristic_band("energy_kwh", np.array([2.0]), band)
    assert np.allclose(lo, [1.0]) and np.allclose(hi, [3.0])


def test_small_profile_shrinks_models(config_override):
    config_override("models.yaml", {"profile": "small"})
    cfg = models_config()
    assert cfg.profile == "small" and cfg.forest.n_estimators == 20 and cfg.tab_transformer.epochs == 3
    assert models_config("default").forest.n_estimators > cfg.forest.n_estimators


def test_coverage_check_bounds_and_sampling_margin():
    from rexai_assets.models.checks import coverage_problems, heuristic_problems

    meta = {"coverage_target": 0.95, "coverage": {"val": {"a": 0.95, "b": 0.985, "c": 0.89}},
            "metrics": {"ensemble": {"val": {"a": {"n": 120}, "b": {"n": 120}, "c": {"n": 2000}}}}}
    problems, detail = coverage_problems(meta, 0.90, 0.98)
    assert [p.split(":")[0] for p in problems] == ["b", "c"]
    # Two standard errors at n=120 (0.02 each) absorb b's 0.985; c (n=2000, se 0.005) still fails.
    problems, detail = coverage_problems(meta, 0.90, 0.98, margin_sd=2.0)
    assert [p.split(":")[0] for p in problems] == ["c"]
    assert detail["b"]["bounds"][1] == pytest.approx(0.98 + 2 * math.sqrt(0.95 * 0.05 / 120), abs=1e-4)
    assert coverage_problems({}, 0.9, 0.98)[0]
    versus = {"a": {"model_mae": 1.0, "heuristic_mae": 2.0, "n": 5, "beats": True},
              "b": {"model_mae": 3.0, "heuristic_mae": 2.0, "n": 5, "beats": False}}
    problems, _ = heuristic_problems({"golden_vs_heuristic": versus}, ["a", "b", "c"])
    assert [p.split(":")[0] for p in problems] == ["b", "c"]
