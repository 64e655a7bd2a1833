"""Measured correction: the simulator-trained ensemble is a prior; measurements teach it where reality differs.

Once enough measured rows are in train, the ensemble members learn from simulated rows only (the
prior, and the replay that keeps the rest of the recipe space from being forgotten), and one small
boosted model per target learns the residual `measured - prior` from the measured rows, with the
prior's own prediction as an extra input (a systematic bias is often a simple function of it).
The prior never saw those measured rows, so the residuals it learns from are honest.
Served value = prior + correction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rexai_assets import settings


class CorrectionConfig(settings.StrictModel):
    enabled: bool = True
    # Measured train rows needed before members train on the prior only and the correction is fitted;
    # a target with fewer labelled measured rows than this keeps the prior alone.
    min_rows: int = 50
    max_iter: int = 150
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 10
    l2_regularization: float = 1.0


@dataclass
class MeasuredCorrection:
    target_names: tuple[str, ...]
    models: dict[str, object]  # target -> fitted regressor on [X, prior]; absent = no correction
    rows: dict[str, int] = field(default_factory=dict)

    def delta(self, X: np.ndarray, prior: np.ndarray, target: str) -> np.ndarray:
        model = self.models.get(target)
        if model is None or len(X) == 0:
            return np.zeros(len(X))
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="openmp"):
            return model.predict(np.column_stack([X, prior]))

    def state(self) -> dict:
        return {"target_names": list(self.target_names), "models": self.models, "rows": self.rows}

    @classmethod
    def from_state(cls, state: dict) -> "MeasuredCorrection":
        return cls(tuple(state["target_names"]), dict(state["models"]), dict(state.get("rows", {})))


def fit_correction(X: np.ndarray, Y: np.ndarray, W: np.ndarray, prior: np.ndarray, target_names: tuple[str, ...],
                   cfg: CorrectionConfig, seed: int) -> MeasuredCorrection:
    """One residual model per target with at least `min_rows` labelled measured rows."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    models, rows = {}, {}
    for j, target in enumerate(target_names):
        labelled = ~np.isnan(Y[:, j])
        rows[target] = int(labelled.sum())
        if labelled.sum() < cfg.min_rows:
            continue
        model = HistGradientBoostingRegressor(
            max_iter=cfg.max_iter, learning_rate=cfg.learning_rate, max_leaf_nodes=cfg.max_leaf_nodes,
            min_samples_leaf=cfg.min_samples_leaf, l2_regularization=cfg.l2_regularization,
            early_stopping=False, random_state=seed + 211 * j)
        inputs = np.column_stack([X[labelled], prior[labelled, j]])
        with threadpool_limits(limits=1, user_api="openmp"):
            model.fit(inputs, Y[labelled, j] - prior[labelled, j], sample_weight=W[labelled])
        models[target] = model
    return MeasuredCorrection(tuple(target_names), models, rows)
