"""The measured correction on its own: cross-fitted by recipe, served only where it helps, honest
out-of-fold values for the intervals, and no correction for targets with too few measurements."""

from __future__ import annotations

import numpy as np

from rexai_assets.models.correction import CorrectionConfig, MeasuredCorrection, cross_fit_correction, fold_of

TARGETS = ("energy_kwh", "crew_min")


def _data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (n, 3))
    prior = np.column_stack([0.2 + X[:, 0], 5 + 10 * X[:, 1]])
    return rng, X, prior


def test_correction_learns_a_bias_that_is_a_function_of_the_prior():
    rng, X, prior = _data(400, 0)
    truth = np.column_stack([1.35 * prior[:, 0] + 0.08, prior[:, 1]])  # energy departs, crew agrees
    Y = truth + rng.normal(0, 0.01, truth.shape)
    Y[:300, 1] = np.nan  # only 100 crew measurements
    fit = cross_fit_correction(X, Y, np.ones(len(X)), prior, np.ones(len(X), bool), np.arange(len(X)).astype(str),
                               TARGETS, CorrectionConfig(min_rows=150), seed=1)
    model = fit.correction
    assert set(model.models) == {"energy_kwh"} and model.rows == {"energy_kwh": 400, "crew_min": 100}
    assert fit.report["energy_kwh"]["used"] and not fit.report["crew_min"]["used"]
    # Out-of-fold values: the corrected ones where a correction serves, the prior where none does.
    assert np.mean(np.abs(fit.oof[:, 0] - truth[:, 0])) < 0.2 * np.mean(np.abs(prior[:, 0] - truth[:, 0]))
    assert np.array_equal(fit.oof[300:, 1], prior[300:, 1]) and np.isnan(fit.oof[:300, 1]).all()

    _, X_new, prior_new = _data(200, 9)
    corrected = prior_new[:, 0] + model.delta(X_new, prior_new[:, 0], "energy_kwh")
    expected = 1.35 * prior_new[:, 0] + 0.08
    assert np.mean(np.abs(corrected - expected)) < 0.1 * np.mean(np.abs(prior_new[:, 0] - expected))
    assert np.array_equal(model.delta(X_new, prior_new[:, 1], "crew_min"), np.zeros(200))


def test_a_correction_that_does_not_help_is_not_served():
    rng, X, prior = _data(200, 3)
    Y = prior + rng.normal(0, 0.05, prior.shape)  # reality agrees with the prior: nothing to learn but noise
    fit = cross_fit_correction(X, Y, np.ones(200), prior, np.ones(200, bool), np.arange(200).astype(str), TARGETS,
                               CorrectionConfig(min_rows=30), seed=2)
    for target in TARGETS:
        report = fit.report[target]
        assert report["used"] == (report["oof_mae_corrected"] < report["oof_mae_prior"])
    assert set(fit.correction.models) == {t for t in TARGETS if fit.report[t]["used"]}


def test_untrusted_rows_train_but_only_trusted_rows_judge():
    rng, X, prior = _data(300, 5)
    truth = prior * 1.3
    Y = truth.copy()
    untrusted = np.arange(300) >= 200
    Y[untrusted] = prior[untrusted] * 5  # a poisoned crew batch
    fit = cross_fit_correction(X, Y, np.ones(300), prior, ~untrusted, np.arange(300).astype(str), TARGETS,
                               CorrectionConfig(min_rows=30), seed=4)
    trusted_prior_mae = np.mean(np.abs(prior[~untrusted, 0] - truth[~untrusted, 0]))
    assert fit.report["energy_kwh"]["oof_mae_prior"] == trusted_prior_mae
    assert fit.report["energy_kwh"]["trusted_rows"] == 200


def test_folds_keep_every_recipe_together():
    groups = np.array(["a", "b", "a", "c", "b", "d", "e", "a"])
    folds = fold_of(groups, 3, seed=0)
    for g in set(groups):
        assert len(set(folds[groups == g])) == 1
    assert len(set(folds)) == 3


def test_correction_state_round_trip_predicts_the_same():
    rng = np.random.default_rng(1)
    X, prior = rng.uniform(0, 1, (120, 2)), rng.uniform(0, 1, (120, 2))
    Y = prior + 0.3 + rng.normal(0, 0.01, (120, 2))
    model = cross_fit_correction(X, Y, np.ones(120), prior, np.ones(120, bool), np.arange(120).astype(str), TARGETS,
                                 CorrectionConfig(min_rows=50), seed=2).correction
    assert model.models
    again = MeasuredCorrection.from_state(model.state())
    assert np.array_equal(again.delta(X, prior[:, 0], "energy_kwh"), model.delta(X, prior[:, 0], "energy_kwh"))


def test_fold_models_are_kept_as_a_committee_whose_spread_grows_away_from_the_measurements():
    rng = np.random.default_rng(3)
    X, prior = rng.uniform(0, 1, (200, 2)), rng.uniform(0, 1, (200, 2))
    Y = prior + np.sin(6 * X[:, :1]) * 0.3 + rng.normal(0, 0.02, (200, 2))
    model = cross_fit_correction(X, Y, np.ones(200), prior, np.ones(200, bool), np.arange(200).astype(str), TARGETS,
                                 CorrectionConfig(min_rows=50, folds=5), seed=2).correction
    assert set(model.committee) == set(TARGETS) and all(len(m) == 5 for m in model.committee.values())
    spread = model.spread(X, prior[:, 0], TARGETS[0])
    assert spread.shape == (200,) and (spread >= 0).all() and spread.mean() > 0
    again = MeasuredCorrection.from_state(model.state())
    assert np.array_equal(again.spread(X, prior[:, 0], TARGETS[0]), spread)
    # An artefact saved before committees existed loads with none: zero spread, same correction.
    old = MeasuredCorrection.from_state({k: v for k, v in model.state().items() if k != "committee"})
    assert not old.spread(X, prior[:, 0], TARGETS[0]).any()


def test_average_folds_serves_the_mean_of_the_full_and_fold_models_and_survives_a_round_trip():
    rng = np.random.default_rng(5)
    X, prior = rng.uniform(0, 1, (150, 2)), rng.uniform(0, 1, (150, 2))
    Y = prior + 0.2 * X[:, :1] + rng.normal(0, 0.05, (150, 2))
    model = cross_fit_correction(X, Y, np.ones(150), prior, np.ones(150, bool), np.arange(150).astype(str), TARGETS,
                                 CorrectionConfig(min_rows=50, folds=5), seed=3).correction
    target = next(iter(model.models))
    full = model.delta(X, prior[:, 0], target)
    assert "average_folds" not in model.state()   # the shared correction's saved state is as it was
    model.average_folds = True
    members = [model.models[target], *model.committee[target]]
    expected = np.mean([m.predict(np.column_stack([X, prior[:, 0]])) for m in members], axis=0)
    averaged = model.delta(X, prior[:, 0], target)
    assert len(members) == 6 and np.allclose(averaged, expected) and not np.allclose(averaged, full)
    again = MeasuredCorrection.from_state(model.state())
    assert again.average_folds and np.array_equal(again.delta(X, prior[:, 0], target), averaged)
