"""How a registered model version predicts stored recipes: the ledger's `Predictor`, on the serving path's scorers."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def version_scorer(mlflow: Any, version: str | None) -> Any | None:
    """The scorer of a registered version (the heuristic for None); None when it cannot serve any more."""
    from rexai_assets.models import registry
    from rexai_assets.models.scorer import ensemble_scorer, heuristic_scorer

    if version is None:
        return heuristic_scorer()
    try:
        model, info = registry.load_model_version(mlflow, version)
    except registry.FeatureContractMismatch:
        return None
    return ensemble_scorer(model, info.version)


def version_predictor(mlflow: Any, tables: Any) -> Any:
    """`ledger.Predictor`: each version loaded once, recipes featurised as `rexai predict` does."""
    from rexai_assets.gold.features import feature_context, featurize_recipes
    from rexai_assets.recipes import parse_recipe

    ctx = feature_context(tables)
    scorers: dict[str | None, Any] = {}

    def predict(version: str | None, specs: Sequence[str]) -> dict[str, dict[str, np.ndarray]] | None:
        if version not in scorers:
            scorers[version] = version_scorer(mlflow, version)
        scorer = scorers[version]
        if scorer is None:
            return None
        features = featurize_recipes([parse_recipe(s) for s in specs], tables, ctx)
        return scorer.predict(features[list(scorer.feature_names)].to_numpy(np.float64))

    return predict
