"""The `serving` layer's definitions: the sealed bundle, recommendations per preset, and the benchmark
assets of the `evaluation` group."""

import dagster as dg

from rexai_assets.serving.assets import (ablation_job, benchmarks, feature_ablations, model_bundle,
                                         model_bundle_verifies, recipe_recommendations, recommendations_job)
from rexai_assets.serving.sensors import preset_partitions_sensor
from rexai_assets.serving.trust_assets import learning_history, ledger_job, prediction_ledger

defs = dg.Definitions(assets=[model_bundle, recipe_recommendations, benchmarks, feature_ablations, prediction_ledger,
                              learning_history],
                      asset_checks=[model_bundle_verifies], jobs=[ablation_job, recommendations_job, ledger_job],
                      sensors=[preset_partitions_sensor])
