"""The `models` layer's definitions: the ensemble members, the served ensemble and its checks."""

import dagster as dg

from rexai_assets.models.assets import (gradient_boosting_models, recipe_autoencoder, rexai_regressor,
                                        rexai_regressor_beats_heuristic, rexai_regressor_interval_coverage,
                                        tab_transformer)

defs = dg.Definitions(
    assets=[gradient_boosting_models, tab_transformer, recipe_autoencoder, rexai_regressor],
    asset_checks=[rexai_regressor_interval_coverage, rexai_regressor_beats_heuristic])
