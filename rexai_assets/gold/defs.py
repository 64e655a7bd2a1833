"""The `gold` layer's definitions: the candidate pool, the gold dataset and their blocking checks."""

import dagster as dg

from rexai_assets.gold.assets import (candidates_valid, gold_dataset, gold_features_valid, gold_great_expectations,
                                      gold_pii_free, gold_replay_share, golden_set_isolated, recipe_candidates_pool)

defs = dg.Definitions(
    assets=[recipe_candidates_pool, gold_dataset],
    asset_checks=[candidates_valid, gold_features_valid, golden_set_isolated, gold_replay_share,
                  gold_great_expectations, gold_pii_free])
