"""The `models` layer: forest, gradient boosting, TabTransformer and autoencoder, the served ensemble
with conformal intervals, MLflow tracking and registry helpers, and recipe serving.

Importing this package imports neither torch nor mlflow (they are imported inside functions), and
the Dagster definitions (ASSETS, CHECKS) are loaded on first use, so serving from the registry
(`rexai recommend`, `rexai predict`) does not pay for importing Dagster.
"""

from typing import Any

_FROM_ASSETS = {"ASSETS": "MODEL_ASSETS", "CHECKS": "MODEL_CHECKS"}
__all__ = sorted(_FROM_ASSETS)


def __getattr__(name: str) -> Any:
    if name in _FROM_ASSETS:
        from rexai_assets.models import assets

        return getattr(assets, _FROM_ASSETS[name])
    raise AttributeError(f"module 'rexai_assets.models' has no attribute {name!r}")
