"""Predictions for recipes from the champion, or from the heuristic when there is none (degraded mode).

Loading never trains. `load_predictor` resolves the alias once, at call time; call it again to pick
up a promotion. In degraded mode every output says `source: "heuristic"` and `model_version: null`,
and the interval is the fixed, uncalibrated band of `config/models.yaml` `heuristic_interval`
(value ± `absolute[target]` for the 0..1 targets, value · (1 ± `relative`) for the costs, clipped to
the target's physical range): a reminder of how little the rule set knows, not a 95 % interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from rexai_assets.models.config import HeuristicInterval, models_config
from rexai_assets.models.ensemble import TARGET_BOUNDS, TrainedEnsemble

MODEL, HEURISTIC = "model", "heuristic"

Featurize = Callable[[Sequence[Any], Any], pd.DataFrame]
HeuristicFn = Callable[[pd.DataFrame], pd.DataFrame]


def heuristic_band(target: str, value: np.ndarray, band: HeuristicInterval) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of the documented degraded-mode band for one target."""
    value = np.asarray(value, dtype=float)
    low, high = TARGET_BOUNDS.get(target, (-np.inf, np.inf))
    if target in band.absolute:
        lo, hi = value - band.absolute[target], value + band.absolute[target]
    else:
        half = np.abs(value) * band.relative
        lo, hi = value - half, value + half
    return np.clip(lo, low, high), np.clip(hi, low, high)


@dataclass
class RecipePredictor:
    """Predicts recipes with the loaded model (`source="model"`) or the heuristic (`source="heuristic"`)."""

    tables: Any
    model: TrainedEnsemble | None
    model_version: str | None
    featurize: Featurize
    heuristic: HeuristicFn
    band: HeuristicInterval

    @property
    def source(self) -> str:
        return MODEL if self.model is not None else HEURISTIC

    def predict_features(self, features: pd.DataFrame) -> pd.DataFrame:
        """Columns `t`, `t_lo`, `t_hi` per target for a DataFrame[feature_names]."""
        if self.model is not None:
            return self.model.predict_frame(features)
        props = self.heuristic(features)
        columns = {}
        for target in props.columns:
            value = props[target].to_numpy(dtype=float)
            lo, hi = heuristic_band(target, value, self.band)
            columns[target], columns[f"{target}_lo"], columns[f"{target}_hi"] = value, lo, hi
        return pd.DataFrame(columns, index=features.index)

    def predict_recipes(self, recipes: Sequence[Any]) -> list[dict]:
        """`[{"recipe_id", "model_version", "source", "prediction": {target: {"value", "lo", "hi"}}}]`."""
        if not recipes:
            return []
        features = self.featurize(list(recipes), self.tables)
        frame = self.predict_features(features)
        targets = [c for c in frame.columns if not c.endswith(("_lo", "_hi"))]
        out = []
        for i, recipe in enumerate(recipes):
            row = frame.iloc[i]
            out.append({
                "recipe_id": recipe.recipe_id,
                "model_version": self.model_version,
                "source": self.source,
                "prediction": {t: {"value": float(row[t]), "lo": float(row[f"{t}_lo"]), "hi": float(row[f"{t}_hi"])}
                               for t in targets},
            })
        return out


def _default_featurize() -> Featurize:
    from rexai_assets.gold.features import featurize_recipes

    return featurize_recipes


def _default_heuristic() -> HeuristicFn:
    from rexai_assets.gold.heuristic import heuristic_props

    return heuristic_props


def load_predictor(mlflow_resource: Any, tables: Any, alias: str = "champion", *,
                   expected_feature_order_hash: str | None = None, featurize: Featurize | None = None,
                   heuristic: HeuristicFn | None = None) -> RecipePredictor:
    """The predictor for `alias` (default champion) now, or the heuristic when no version holds it.

    `mlflow_resource` is an `MlflowTracking` resource or a tracking URI. A champion trained on another
    feature order raises `FeatureContractMismatch` rather than silently degrading."""
    from rexai_assets.models.registry import load_model_by_alias

    found = load_model_by_alias(mlflow_resource, alias, expected_feature_order_hash)
    model, version = (found[0], found[1].version) if found is not None else (None, None)
    return RecipePredictor(tables=tables, model=model, model_version=version,
                           featurize=featurize or _default_featurize(), heuristic=heuristic or _default_heuristic(),
                           band=models_config().heuristic_interval)
