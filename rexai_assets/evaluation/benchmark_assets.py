"""The `benchmarks` and `feature_ablations` assets: heuristic vs champion vs challenger, and feature-group ablations.

Bodies only wire resources to `evaluation.benchmark_outputs`; mlflow, torch and matplotlib are imported inside them.
"""

from typing import Any

import dagster as dg
import pandas as pd

from rexai_assets.evaluation.assets import GROUP, promotion_proposal
from rexai_assets.resources import MlflowTracking, RexaiStorage


def _scorers(mlflow: MlflowTracking) -> dict[str, Any]:
    """heuristic, champion and challenger (the aliases resolved now; a missing alias is left out)."""
    from rexai_assets.models.scorer import ensemble_scorer, heuristic_scorer, load_model

    scorers = {"heuristic": heuristic_scorer()}
    for alias in ("champion", "challenger"):
        found = load_model(mlflow, alias)
        if found is not None:
            scorers[alias] = ensemble_scorer(*found)
    return scorers


@dg.asset(group_name=GROUP, kinds={"pandas", "parquet", "matplotlib"}, deps=[promotion_proposal])
def benchmarks(context: dg.AssetExecutionContext, storage: RexaiStorage, mlflow: MlflowTracking, gold_dataset,
               waste_inventory: pd.DataFrame, waste_materials: pd.DataFrame, process_catalog: pd.DataFrame,
               mgs1_oxides: pd.DataFrame, mgs1_properties: pd.DataFrame, material_datasheets: pd.DataFrame,
               target_presets: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Heuristic vs champion vs challenger per scenario, preset and target (MAE, RMSE, interval width, coverage)."""
    from rexai_assets.raw.tables import RawTables
    from rexai_assets.evaluation.benchmark_outputs import benchmark_outputs

    tables = RawTables.from_assets(waste_inventory, waste_materials, process_catalog, mgs1_oxides, mgs1_properties,
                                   material_datasheets, target_presets)
    outcome = benchmark_outputs(gold_dataset, tables, _scorers(mlflow), storage.layout.benchmarks, mlflow)
    return dg.Output(outcome.metrics, metadata=outcome.metadata)


@dg.asset(group_name=GROUP, kinds={"scikit-learn", "parquet", "matplotlib"})
def feature_ablations(context: dg.AssetExecutionContext, storage: RexaiStorage, gold_dataset) -> dg.Output[pd.DataFrame]:
    """Validation error change per target when a light model is retrained without each feature group."""
    from rexai_assets.evaluation.benchmark_outputs import ablation_outputs

    frame, metadata = ablation_outputs(gold_dataset, storage.layout.benchmarks)
    return dg.Output(frame, metadata=metadata)


ablation_job = dg.define_asset_job(
    "ablation_job", selection=dg.AssetSelection.assets(feature_ablations),
    description="Retrain a light model without each feature group and report the validation error change (not part of every run).")
