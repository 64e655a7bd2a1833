"""The `models` layer: forest, gradient boosting, TabTransformer and autoencoder, the served ensemble
with conformal intervals, MLflow tracking and registry helpers, and recipe serving.

Importing this package imports neither torch nor mlflow (they are imported inside functions).
"""

from rexai_assets.models.assets import MODEL_ASSETS, MODEL_CHECKS

ASSETS = MODEL_ASSETS
CHECKS = MODEL_CHECKS
