"""Plain functions of the models layer: conformal quantiles, coverage, metrics, member selection."""

import math

import numpy as np
import pytest

from rexai_assets.models.conformal import calibrate, conformal_quantile
from rexai_assets.models.config import HeuristicInterval, models_config
from rexai_assets.models.ensemble import calibration_halves, select_inverse_mae, select_nnls
from rexai_assets.models.metrics import interval_coverage, normalised_mae, regression_metrics
from rexai_assets.models.scorer import heuristic_band


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


def test_small_profile_may_not_touch_intervals_or_checks(config_override):
    config_override("models.yaml", {"profile": "small", "profiles": {"small": {"intervals": {"min_measured_rows": 5}}}})
    with pytest.raises(Exception, match="may only shrink model sizes"):
        models_config()


def _meta(golden_measured_n: int, coverage: dict[str, float], n: int) -> dict:
    split = "golden_measured" if golden_measured_n else "golden_simulated"
    entries = {t: {"n": n, "coverage": c} for t, c in coverage.items()}
    metrics = {split: entries}
    if golden_measured_n and split != "golden_measured":
        metrics["golden_measured"] = {t: {"n": golden_measured_n, "coverage": 1.0} for t in coverage}
    return {"coverage_target": 0.95, "metrics": {"ensemble": metrics}}


def test_coverage_check_is_a_binomial_test_on_the_deciding_slice():
    from rexai_assets.models.checks import coverage_problems
    from rexai_assets.models.rules import QualityThresholds

    thresholds = QualityThresholds(max_relative_regression={}, coverage_test_level=0.01, min_measured_golden_rows=20)
    # 40 measured rows: 0.99 coverage is no evidence of a problem, 38/40 neither; 30/40 is (p < 0.01).
    problems, detail = coverage_problems(_meta(40, {"a": 1.0, "b": 0.95, "c": 0.75}, 40), ["a", "b", "c"], thresholds)
    assert [p.split(":")[0] for p in problems] == ["c"]
    assert detail["c"]["slice"] == "golden_measured" and detail["c"]["n"] == 40
    assert detail["c"]["ci_low"] < 0.75 < detail["c"]["ci_high"] and detail["c"]["p_value"] < 0.01
    # The same 0.9 share is fine on 40 rows and significantly low on 2,000.
    assert not coverage_problems(_meta(40, {"a": 0.9}, 40), ["a"], thresholds)[0]
    assert coverage_problems(_meta(0, {"a": 0.9}, 2000), ["a"], thresholds)[0]
    # Below min_measured_golden_rows the simulated slice decides.
    meta = _meta(0, {"a": 0.96}, 500)
    meta["metrics"]["ensemble"]["golden_measured"] = {"a": {"n": 10, "coverage": 0.1}}
    problems, detail = coverage_problems(meta, ["a"], thresholds)
    assert not problems and detail["a"]["slice"] == "golden_simulated"
    assert coverage_problems({}, ["a"], thresholds)[0]


def test_heuristic_check_names_each_losing_target():
    from rexai_assets.models.checks import heuristic_problems

    versus = {"a": {"model_mae": 1.0, "heuristic_mae": 2.0, "n": 5, "beats": True, "slice": "golden_measured"},
              "b": {"model_mae": 3.0, "heuristic_mae": 2.0, "n": 5, "beats": False, "slice": "golden_measured"}}
    problems, _ = heuristic_problems({"golden_vs_heuristic": versus}, ["a", "b", "c"])
    assert [p.split(":")[0] for p in problems] == ["b", "c"]
    assert "golden_measured" in problems[0]


def test_log_scale_intervals_are_relative_and_positive():
    from rexai_assets.models.conformal import MEASURED, NormalisedConformal, TargetInterval, TargetScale

    scale = TargetScale(offset=0.01)
    sim = NormalisedConformal(q=1.0, sigma_floor=0.1, coverage_target=0.95, n_calibration=100, valid=True)
    interval = TargetInterval(MEASURED, 0.95, scale, sim, q_measured=math.log(1.5), n_measured=50)
    lo, hi = interval.interval(np.array([1.0, 10.0]), np.zeros(2), 0.0, math.inf)
    assert np.allclose(hi + 0.01, (np.array([1.0, 10.0]) + 0.01) * 1.5)
    assert np.all(lo > 0) and (hi[1] - lo[1]) > 9 * (hi[0] - lo[0])
    # The simulated regime widens the simulated interval by the allowance on the scale, clipped to the range.
    plain = TargetInterval("simulated", 0.95, TargetScale(), sim, allowance=0.2)
    lo, hi = plain.interval(np.array([0.5, 0.05]), np.array([0.1, 0.1]), 0.0, 1.0)
    assert np.allclose(lo, [0.2, 0.0]) and np.allclose(hi, [0.8, 0.35])
    assert TargetInterval.from_dict(interval.to_dict()) == interval


def test_allowance_is_re_estimated_from_measurements():
    from rexai_assets.models.conformal import TargetScale, measured_allowance

    rng = np.random.default_rng(4)
    y = rng.normal(0.0, 1.0, 400)
    lo, hi = np.full(400, -0.5), np.full(400, 0.5)
    allowance, source = measured_allowance(y, lo, hi, TargetScale(), 0.95, configured=5.0)
    # Rows outside [-0.5, 0.5] by the 95 % quantile of the excess: about 1.96 - 0.5.
    assert abs(allowance - 1.46) < 0.2 and source == "measured (400 rows)"
    assert np.mean((y >= lo - allowance) & (y <= hi + allowance)) >= 0.95
    # Too few rows for a valid quantile: the configured allowance stays unless a row already exceeds it.
    assert measured_allowance(y[:5], lo[:5], hi[:5], TargetScale(), 0.95, configured=5.0)[0] == 5.0
    assert measured_allowance(np.array([]), np.array([]), np.array([]), TargetScale(), 0.95, 0.3) == (0.3, "config")


def test_a_forest_loaded_twice_saves_the_same_bytes(tmp_path):
    """Tree node records have padding bytes nothing writes; saving zeroes them, so the bytes depend on the trees only."""
    from sklearn.ensemble import RandomForestRegressor

    from rexai_assets.models.forest import load_sklearn_state, save_sklearn_state

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 4)), rng.normal(size=200)
    save_sklearn_state({"forests": [RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)]}, tmp_path / "f")
    saved = []
    for i in range(3):
        state = load_sklearn_state(tmp_path / "f")
        save_sklearn_state(state, tmp_path / f"again{i}")
        saved.append((tmp_path / f"again{i}").read_bytes())
    assert saved[0] == saved[1] == saved[2]


def test_boosting_unit_weights_fit_the_same_model_as_without():
    """fit_histogram_boosting leaves out weights that are all 1 (the slow weighted binning): the fitted
    model must be the one scikit-learn fits with those weights; other weights are passed through."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from rexai_assets.models.boosting import fit_histogram_boosting

    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 4))  # > 255 distinct values per feature: the percentile binning path
    y = X[:, 0] - 2 * X[:, 1] ** 2 + rng.normal(scale=0.1, size=2000)
    model = lambda: HistGradientBoostingRegressor(max_iter=20, early_stopping=False, random_state=0)  # noqa: E731
    ones, uneven = np.ones(2000), rng.uniform(0.5, 5.0, 2000)
    fast = fit_histogram_boosting(model(), X, y, ones)
    assert np.array_equal(fast.predict(X), model().fit(X, y, sample_weight=ones).predict(X))
    weighted = fit_histogram_boosting(model(), X, y, uneven)
    assert np.array_equal(weighted.predict(X), model().fit(X, y, sample_weight=uneven).predict(X))
    assert not np.array_equal(weighted.predict(X), fast.predict(X))


def test_fit_cache_reuses_a_fit_only_for_the_same_inputs_and_keeps_the_newest(tmp_path):
    from rexai_assets.models.fit_cache import KEEP_PER_MEMBER, cached_fit, fit_key

    X, Y = np.arange(12.0).reshape(6, 2), np.ones((6, 1))
    modules = ["rexai_assets.models.forest"]
    key = fit_key("forest", {"n": 1}, [X, Y], modules)
    calls = []
    fit = lambda: calls.append(1) or {"fitted": len(calls)}  # noqa: E731
    first, reused = cached_fit(tmp_path, "forest", key, fit)
    assert not reused and first == {"fitted": 1}
    again, reused = cached_fit(tmp_path, "forest", key, fit)
    assert reused and again == first and len(calls) == 1
    # Anything the fit depends on is a new key: a row, a setting, the code, the array's dtype.
    X2 = X.copy()
    X2[0, 0] = 99.0
    others = {fit_key("forest", {"n": 1}, [X2, Y], modules), fit_key("forest", {"n": 2}, [X, Y], modules),
              fit_key("forest", {"n": 1}, [X, Y], ["rexai_assets.models.boosting"]),
              fit_key("forest", {"n": 1}, [X.astype(np.float32), Y], modules), fit_key("boosting", {"n": 1}, [X, Y], modules)}
    assert key not in others and len(others) == 5
    for other in sorted(others)[:3]:
        cached_fit(tmp_path, "forest", other, fit)
    assert len(list(tmp_path.glob("forest-*.pkl"))) == KEEP_PER_MEMBER
    assert cached_fit(None, "forest", key, fit)[1] is False  # no directory: always a fit


def test_a_member_weighted_zero_is_skipped_on_the_same_basis_then_compared_again(tmp_path):
    from rexai_assets.models.fit_cache import record_selection, selection_basis, unselected_skip

    basis = selection_basis({"candidate_pool": {"pool_hash": "p1"}, "simulator": {"seed": 1}}, {"epochs": 6})
    other = selection_basis({"candidate_pool": {"pool_hash": "p2"}, "simulator": {"seed": 1}}, {"epochs": 6})
    assert basis != other != selection_basis({"candidate_pool": {"pool_hash": "p1"}, "simulator": {"seed": 1}},
                                             {"epochs": 7})
    assert unselected_skip(tmp_path, "tab_transformer", basis, 2) is None  # never compared: train it
    weights = {"rigidity": {"boosting": 1.0}, "energy_kwh": {"forest": 0.5, "boosting": 0.5}}
    record_selection(tmp_path, weights, ["forest", "boosting", "tab_transformer"], basis)
    assert unselected_skip(tmp_path, "boosting", basis, 2) is None  # weighted: always trained
    assert unselected_skip(tmp_path, "tab_transformer", other, 2) is None  # another simulated pool
    assert unselected_skip(tmp_path, "tab_transformer", basis, 0) is None  # 0: never skip
    assert "skip 1 of 2" in unselected_skip(tmp_path, "tab_transformer", basis, 2)
    # A selection without the skipped member keeps its entry (and its count)...
    record_selection(tmp_path, weights, ["forest", "boosting"], basis)
    assert "skip 2 of 2" in unselected_skip(tmp_path, "tab_transformer", basis, 2)
    assert unselected_skip(tmp_path, "tab_transformer", basis, 2) is None  # ...until it must be compared again
    record_selection(tmp_path, {"rigidity": {"tab_transformer": 0.3, "boosting": 0.7}},
                     ["forest", "boosting", "tab_transformer"], basis)
    assert unselected_skip(tmp_path, "tab_transformer", basis, 2) is None  # chosen this time: trained next time
