"""The `evaluation` layer's definitions: model evaluation, the promotion proposal and the second vote,
benchmarks and ablations, the prediction ledger and the learning history."""

import dagster as dg

from rexai_assets.evaluation.assets import (champion_matches_proposal, model_evaluation, promotion_proposal,
                                            same_rows_for_every_model)
from rexai_assets.evaluation.benchmark_assets import ablation_job, benchmarks, feature_ablations
from rexai_assets.evaluation.jobs import review_promotion
from rexai_assets.evaluation.learning_benchmark import learning_benchmark
from rexai_assets.evaluation.trust_assets import learning_history, ledger_job, prediction_ledger

defs = dg.Definitions(assets=[model_evaluation, promotion_proposal, learning_benchmark, benchmarks, feature_ablations,
                              prediction_ledger, learning_history],
                      asset_checks=[same_rows_for_every_model, champion_matches_proposal],
                      jobs=[review_promotion, ablation_job, ledger_job])
