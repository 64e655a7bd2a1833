"""Measured correction: the simulator-trained ensemble is a prior; measurements teach it where reality differs.

The ensemble members learn from simulated rows only, so the prior never sees a measurement and its
residuals on every measured row are honest. One small boosted model per target learns
`measured - prior` on the target's scale (log for the costs) from the measured rows, with the prior's
own prediction as an extra input (a systematic bias is often a simple function of it).

Cross-fitting: the measured rows are split into folds by recipe (repeated measurements of one recipe
stay together); each fold is predicted by a model fitted on the others. Those out-of-fold predictions
(a) choose, per target, between the corrected model and the prior alone on trusted rows, so a
correction that does not help is not served, and (b) calibrate the served intervals (cross-conformal,
see models/conformal.py), so every measured row calibrates and none is set aside.
Served value = prior + correction (on the scale). The fold models are kept as a committee: their spread
on a recipe is how unsure the correction is there (planning explores where it is largest). A correction
with `average_folds` serves the mean of the full model and its fold models (bagging: less variance where
the rows are few; the habitat adapters use it, see models/adapters.py); the shared correction serves the
full model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rexai_assets import settings


class CorrectionConfig(settings.ResidualModelSettings):
    # Labelled measured rows (per target, outside the golden set) needed before a correction is fitted;
    # `folds` is also the number of folds of the cross-conformal calibration.
    min_rows: int = 30


@dataclass
class MeasuredCorrection:
    target_names: tuple[str, ...]
    models: dict[str, object]  # target -> fitted regressor on [X, prior on the scale]; absent = no correction
    rows: dict[str, int] = field(default_factory=dict)
    # Per target, the offset of the log scale the correction learned on (None: the target itself).
    offsets: dict[str, float | None] = field(default_factory=dict)
    # Per target, the cross-fitting's fold models (whenever a cross-fit ran, served or not).
    committee: dict[str, list] = field(default_factory=dict)
    # Serve the mean of the full model and the fold models instead of the full model alone.
    average_folds: bool = False

    def on_scale(self, prior: np.ndarray, target: str) -> np.ndarray:
        """The prior in units mapped onto the scale the correction learned on."""
        offset = self.offsets.get(target)
        return prior if offset is None else np.log(np.maximum(prior, 0.0) + offset)

    def spread(self, X: np.ndarray, prior: np.ndarray, target: str) -> np.ndarray:
        """Std over the fold models of the correction on the target's scale, for rows X whose prior value (in
        units) is `prior`; zeros without a committee. Each fold model missed a fifth of the rows, so they
        disagree where the correction rests on few measurements."""
        models = self.committee.get(target, [])
        if len(models) < 2 or len(X) == 0:
            return np.zeros(len(X))
        shifted = self.on_scale(prior, target)
        return np.std([_predict(m, X, shifted) for m in models], axis=0)

    def delta(self, X: np.ndarray, prior: np.ndarray, target: str) -> np.ndarray:
        """The correction on the target's scale for rows X whose prior (on the scale) is `prior`."""
        model = self.models.get(target)
        if model is None or len(X) == 0:
            return np.zeros(len(X))
        if self.average_folds:
            return np.mean([_predict(m, X, prior) for m in [model, *self.committee.get(target, [])]], axis=0)
        return _predict(model, X, prior)

    def apply(self, X: np.ndarray, prior: np.ndarray, target: str) -> np.ndarray:
        """The corrected value in the target's units for rows X whose prior value is `prior`."""
        if self.offsets.get(target) is None:
            return prior + self.delta(X, prior, target)
        shifted = self.on_scale(prior, target)
        return np.exp(shifted + self.delta(X, shifted, target)) - self.offsets[target]

    def state(self) -> dict:
        return {"target_names": list(self.target_names), "models": self.models, "rows": self.rows,
                "offsets": self.offsets, "committee": self.committee,
                # only when set: the shared correction's saved state (and its model hash) stays as it was
                **({"average_folds": True} if self.average_folds else {})}

    @classmethod
    def from_state(cls, state: dict) -> "MeasuredCorrection":
        """(A state saved before `average_folds` existed served the full model.)"""
        return cls(tuple(state["target_names"]), dict(state["models"]), dict(state.get("rows", {})),
                   dict(state.get("offsets", {})), dict(state.get("committee", {})),
                   bool(state.get("average_folds", False)))


@dataclass
class CrossFit:
    """What cross-fitting learned: the served correction, out-of-fold predictions and the choice per target."""

    correction: MeasuredCorrection
    oof: np.ndarray              # [n, targets] out-of-fold served values on the scale (NaN where unlabelled)
    report: dict[str, dict]


def _predict(model: object, X: np.ndarray, prior: np.ndarray) -> np.ndarray:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        return model.predict(np.column_stack([X, prior]))  # type: ignore[attr-defined]


def _fit(X: np.ndarray, residual: np.ndarray, prior: np.ndarray, W: np.ndarray, cfg: CorrectionConfig,
         seed: int) -> object:
    from sklearn.ensemble import HistGradientBoostingRegressor

    from rexai_assets.models.boosting import fit_histogram_boosting

    model = HistGradientBoostingRegressor(
        max_iter=cfg.max_iter, learning_rate=cfg.learning_rate, max_leaf_nodes=cfg.max_leaf_nodes,
        min_samples_leaf=min(cfg.min_samples_leaf, max(2, len(X) // 10)), l2_regularization=cfg.l2_regularization,
        early_stopping=False, random_state=seed)
    return fit_histogram_boosting(model, np.column_stack([X, prior]), residual, W)


def fold_of(groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold index per row; every row of a group (recipe) in the same fold, folds of similar size."""
    unique = np.unique(np.asarray(groups).astype(str))
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of_group = dict(zip(unique[order], np.arange(len(unique)) % folds))
    return np.array([fold_of_group[g] for g in np.asarray(groups).astype(str)], dtype=int)


def _mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a - b))) if len(a) else float("nan")


def cross_fit_target(X: np.ndarray, y: np.ndarray, prior: np.ndarray, W: np.ndarray, trusted: np.ndarray,
                     folds: np.ndarray, cfg: CorrectionConfig,
                     seed: int) -> tuple[object | None, np.ndarray, dict, list]:
    """One target on its scale: (served model or None, out-of-fold served values, report, fold models)."""
    labelled = ~np.isnan(y)
    oof = np.where(labelled, prior, np.nan)
    report = {"rows": int(labelled.sum()), "trusted_rows": int((labelled & trusted).sum()), "used": False}
    if labelled.sum() < cfg.min_rows or len(np.unique(folds[labelled])) < 2:
        return None, oof, report, []
    corrected, committee = oof.copy(), []
    for k in np.unique(folds[labelled]):
        fit_rows, held = labelled & (folds != k), labelled & (folds == k)
        model = _fit(X[fit_rows], y[fit_rows] - prior[fit_rows], prior[fit_rows], W[fit_rows], cfg, seed + int(k))
        corrected[held] = prior[held] + _predict(model, X[held], prior[held])
        committee.append(model)
    # Judge on trusted rows; only without any (crew feedback alone) on what there is.
    judge = labelled & trusted if (labelled & trusted).any() else labelled
    report["oof_mae_prior"] = _mae(y[judge], prior[judge])
    report["oof_mae_corrected"] = _mae(y[judge], corrected[judge])
    if not report["oof_mae_corrected"] < report["oof_mae_prior"]:
        return None, oof, report, committee
    report["used"] = True
    model = _fit(X[labelled], y[labelled] - prior[labelled], prior[labelled], W[labelled], cfg, seed + 97)
    return model, corrected, report, committee


def cross_fit_correction(X: np.ndarray, Y: np.ndarray, W: np.ndarray, prior: np.ndarray, trusted: np.ndarray,
                         groups: np.ndarray, target_names: tuple[str, ...], cfg: CorrectionConfig,
                         seed: int) -> CrossFit:
    """Per target, on the targets' scales (Y and prior already transformed): see the module docstring."""
    folds = fold_of(groups, cfg.folds, seed) if len(X) else np.zeros(0, dtype=int)
    models, rows, report, committee = {}, {}, {}, {}
    oof = np.full(Y.shape, np.nan)
    for j, target in enumerate(target_names):
        model, oof[:, j], report[target], folds_fitted = cross_fit_target(X, Y[:, j], prior[:, j], W, trusted, folds,
                                                                          cfg, seed + 211 * j)
        rows[target] = report[target]["rows"]
        if model is not None:
            models[target] = model
        if folds_fitted:
            committee[target] = folds_fitted
    return CrossFit(MeasuredCorrection(tuple(target_names), models, rows, committee=committee), oof, report)
