"""The `evaluation` layer's definitions: model evaluation, the promotion proposal and the second vote."""

import dagster as dg

from rexai_assets.evaluation.assets import (champion_matches_proposal, model_evaluation, promotion_proposal,
                                            same_rows_for_every_model)
from rexai_assets.evaluation.jobs import review_promotion
from rexai_assets.evaluation.learning_benchmark import learning_benchmark

defs = dg.Definitions(assets=[model_evaluation, promotion_proposal, learning_benchmark],
                      asset_checks=[same_rows_for_every_model, champion_matches_proposal],
                      jobs=[review_promotion])
