"""The `evaluation` layer's definitions: model evaluation and the promotion proposal, benchmarks and
ablations, the prediction ledger and the learning history (the second vote's job is the habitats layer's:
it decides adapter proposals too)."""

import dagster as dg

from rexai_assets.evaluation.assets import (champion_matches_proposal, model_evaluation, promotion_proposal,
                                            same_rows_for_every_model)
from rexai_assets.evaluation.benchmark_assets import ablation_job, benchmarks, feature_ablations
from rexai_assets.evaluation.learning_benchmark import learning_benchmark
from rexai_assets.evaluation.trust_assets import learning_history, ledger_job, prediction_ledger

defs = dg.Definitions(assets=[model_evaluation, promotion_proposal, learning_benchmark, benchmarks, feature_ablations,
                              prediction_ledger, learning_history],
                      asset_checks=[same_rows_for_every_model, champion_matches_proposal],
                      jobs=[ablation_job, ledger_job])
