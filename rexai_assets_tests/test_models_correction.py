"""The measured correction on its own: it learns a systematic departure from the prior, and stays out
of targets with too few measurements."""

from __future__ import annotations

import numpy as np

from rexai_assets.models.correction import CorrectionConfig, MeasuredCorrection, fit_correction

TARGETS = ("energy_kwh", "crew_min")


def test_correction_learns_a_bias_that_is_a_function_of_the_prior():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (400, 3))
    prior = np.column_stack([0.2 + X[:, 0], 5 + 10 * X[:, 1]])
    truth = np.column_stack([1.35 * prior[:, 0] + 0.08, prior[:, 1]])  # energy departs, crew agrees
    Y = truth + rng.normal(0, 0.01, truth.shape)
    Y[:300, 1] = np.nan  # only 100 crew measurements
    model = fit_correction(X, Y, np.ones(len(X)), prior, TARGETS, CorrectionConfig(min_rows=150), seed=1)
    assert set(model.models) == {"energy_kwh"} and model.rows == {"energy_kwh": 400, "crew_min": 100}

    X_new = rng.uniform(0, 1, (200, 3))
    prior_new = np.column_stack([0.2 + X_new[:, 0], 5 + 10 * X_new[:, 1]])
    corrected = prior_new[:, 0] + model.delta(X_new, prior_new[:, 0], "energy_kwh")
    expected = 1.35 * prior_new[:, 0] + 0.08
    assert np.mean(np.abs(corrected - expected)) < 0.1 * np.mean(np.abs(prior_new[:, 0] - expected))
    assert np.array_equal(model.delta(X_new, prior_new[:, 1], "crew_min"), np.zeros(200))


def test_correction_state_round_trip_predicts_the_same():
    rng = np.random.default_rng(1)
    X, prior = rng.uniform(0, 1, (120, 2)), rng.uniform(0, 1, (120, 2))
    Y = prior + 0.3
    model = fit_correction(X, Y, np.ones(120), prior, TARGETS, CorrectionConfig(min_rows=50), seed=2)
    again = MeasuredCorrection.from_state(model.state())
    assert np.array_equal(again.delta(X, prior[:, 0], "energy_kwh"), model.delta(X, prior[:, 0], "energy_kwh"))
