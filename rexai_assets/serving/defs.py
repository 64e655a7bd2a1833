"""The `serving` layer's definitions: the sealed bundle and the recommendations per preset."""

import dagster as dg

from rexai_assets.serving.assets import model_bundle, model_bundle_verifies, recipe_recommendations, recommendations_job
from rexai_assets.serving.sensors import preset_partitions_sensor

defs = dg.Definitions(assets=[model_bundle, recipe_recommendations], asset_checks=[model_bundle_verifies],
                      jobs=[recommendations_job], sensors=[preset_partitions_sensor])
