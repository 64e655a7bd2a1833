"""The `evaluation` group's trust assets: the prediction ledger and the learning history.

Bodies only wire resources to the plain functions of `evaluation.ledger`, `evaluation.history` and
`evaluation.predictors` (a registered version's scorer, `models.scorer`)."""

import dagster as dg
import pandas as pd

from rexai_assets.evaluation.assets import GROUP
from rexai_assets.resources import WAREHOUSE_READ, WAREHOUSE_WRITE, MlflowTracking, RexaiStorage, Warehouse

# Brought up to date whenever an ingestion (or anything else upstream) materialises; partitioned parents
# never all exist, so this is not `eager()` (which waits for every parent partition).
ON_UPDATE = dg.AutomationCondition.any_deps_updated() & ~dg.AutomationCondition.any_deps_in_progress() \
    & ~dg.AutomationCondition.in_progress()


@dg.asset(group_name=GROUP, kinds={"duckdb"}, op_tags=WAREHOUSE_WRITE, automation_condition=ON_UPDATE,
          deps=[dg.AssetKey("experiment_runs"), dg.AssetKey("crew_feedback")])
def prediction_ledger(context: dg.AssetExecutionContext, warehouse: Warehouse, mlflow: MlflowTracking,
                      waste_inventory: pd.DataFrame, waste_materials: pd.DataFrame, process_catalog: pd.DataFrame,
                      mgs1_oxides: pd.DataFrame, mgs1_properties: pd.DataFrame, material_datasheets: pd.DataFrame,
                      target_presets: pd.DataFrame) -> dg.Output[dict]:
    """Each ingested measurement beside the prediction the champion of that moment made for it (registry.prediction_ledger)."""
    from rexai_assets.evaluation.ledger import update_ledger
    from rexai_assets.evaluation.promotion import now_utc
    from rexai_assets.raw.tables import RawTables
    from rexai_assets.evaluation.predictors import version_predictor

    tables = RawTables.from_assets(waste_inventory, waste_materials, process_catalog, mgs1_oxides, mgs1_properties,
                                   material_datasheets, target_presets)
    with warehouse.connect() as con:
        update = update_ledger(con, version_predictor(mlflow, tables), now_utc())
    if update.pending_skipped:
        context.log.warning(f"{update.pending_skipped} measured value(s) left pending: no model could predict them")
    return dg.Output(dict(update.__dict__), metadata={k: dg.MetadataValue.int(v) for k, v in update.__dict__.items()})


# It only reads the warehouse (tagged read); the `duckdb` kind marks the assets that write a table.
@dg.asset(group_name=GROUP, kinds={"pandas", "matplotlib"}, op_tags=WAREHOUSE_READ, automation_condition=ON_UPDATE,
          deps=[prediction_ledger, dg.AssetKey("promotion_proposal")])
def learning_history(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.Output[dict]:
    """Per champion version: when it served, its prospective error and coverage per target; per retrain, the gate's verdict."""
    from rexai_assets.evaluation import history as hs
    from rexai_assets.plots import markdown_image

    with warehouse.connect(read_only=True) as con:
        document, rows = hs.load_history(con)
    current = document["versions"][-1]["version"] if document["versions"] else None
    return dg.Output(document, metadata={
        "versions": len(document["versions"]), "retrains": len(document["retrains"]),
        "history": dg.MetadataValue.md(f"```\n{hs.history_text(document)}\n```"),
        "error_per_version": dg.MetadataValue.md(markdown_image(hs.error_over_time_png(document), "error per version")),
        "predicted_vs_measured": dg.MetadataValue.md(markdown_image(hs.predicted_vs_measured_png(rows, current),
                                                                    "predicted vs measured")),
        "coverage_per_version": dg.MetadataValue.md(markdown_image(hs.coverage_png(document), "coverage per version")),
        "document": dg.MetadataValue.json(document)})


ledger_job = dg.define_asset_job(
    "ledger_job", selection=dg.AssetSelection.assets(prediction_ledger, learning_history),
    description="Bring the prediction ledger and the learning history up to date (also part of every retrain).")
