"""The `serving` assets: the sealed model bundle and the recommendations per preset.

Bodies only wire resources to the plain functions of this package; mlflow, torch and matplotlib are
imported inside them.

Partitions of `recipe_recommendations`: a dynamic partition set named `target_presets`, one partition
per preset name in raw/targets_presets.json. Static partitions would need the file at import time
(importing definitions does no I/O), so the set follows the file: `preset_partitions_sensor`
(serving/sensors.py) requests the changes under the daemon, and `rexai run` calls
`sync_preset_partitions`. A preset added to the file becomes a partition at the next sync, a preset
removed from it stops being one (its past materialisations stay in the event log).
"""

import time
from typing import Any, Iterable

import pandas as pd

import dagster as dg

from rexai_assets.partitions import unknown_partition_keys
from rexai_assets.resources import WAREHOUSE_READ, MlflowTracking, RexaiStorage, Warehouse
from rexai_assets.warehouse import table_exists

SERVING = "serving"
PRESET_PARTITIONS = "target_presets"
# Promotion may move the champion alias: what is sealed and recommended follows it.
PROMOTION = dg.AssetKey("promotion_proposal")

preset_partitions = dg.DynamicPartitionsDefinition(name=PRESET_PARTITIONS)


def preset_partition_changes(instance: dg.DagsterInstance, preset_names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(to add, to remove) to make the `target_presets` partitions equal to `preset_names`."""
    wanted = [str(n) for n in preset_names]
    current = set(instance.get_dynamic_partitions(PRESET_PARTITIONS))
    return unknown_partition_keys(instance, preset_partitions, wanted), sorted(current - set(wanted))


def sync_preset_partitions(instance: dg.DagsterInstance, preset_names: Iterable[str]) -> list[str]:
    """Make the `target_presets` partitions equal to `preset_names`; returns them in file order."""
    wanted = list(dict.fromkeys(str(n) for n in preset_names))
    added, removed = preset_partition_changes(instance, wanted)
    if added:
        instance.add_dynamic_partitions(PRESET_PARTITIONS, added)
    for name in removed:
        instance.delete_dynamic_partition(PRESET_PARTITIONS, name)
    return wanted


def preset_names(data: Any) -> list[str]:
    """Preset names of `<raw>/targets_presets.json`; `data` is a DataLayout or the raw folder itself."""
    from pathlib import Path

    from rexai_assets.serving.recommend import read_preset_names

    return read_preset_names(Path(getattr(data, "raw", data)))


def _gold_lineage_lookup(warehouse: Warehouse):
    def lookup(dataset_hash: str) -> dict | None:
        import json

        with warehouse.connect() as con:
            if not table_exists(con, "gold", "lineage"):
                return None
            row = con.execute("SELECT lineage FROM gold.lineage WHERE dataset_hash = ?", [dataset_hash]).fetchone()
        return json.loads(row[0]) if row else None

    return lookup


# ---------------------------------------------------------------------------------------------
# model_bundle


@dg.asset(group_name=SERVING, kinds={"zip", "mlflow"}, deps=[PROMOTION], op_tags=WAREHOUSE_READ)
def model_bundle(context: dg.AssetExecutionContext, storage: RexaiStorage, mlflow: MlflowTracking,
                 warehouse: Warehouse, gold_dataset) -> dg.Output[dict]:
    """Sealed, byte-reproducible ZIP of the champion (or the version pinned in config/bundle.yaml) with lineage and a replay sample."""
    from rexai_assets.serving.bundle import seal

    result = seal(mlflow, gold_dataset, storage.layout.bundles, lineage_lookup=_gold_lineage_lookup(warehouse),
                  keep_sealed=True)
    value = {"path": str(result.path) if result.path else None, "sha256": result.sha256, "version": result.version,
             "size": result.size, "reason": result.reason}
    if result.path is None:
        context.log.warning(f"model_bundle: nothing sealed ({result.reason})")
        return dg.Output(value, metadata={"sealed": False, "reason": result.reason or ""})
    return dg.Output(value, data_version=dg.DataVersion(result.sha256), metadata={
        "sealed": True, "path": dg.MetadataValue.path(str(result.path)), "sha256": result.sha256,
        "model_version": result.version, "bytes": result.size, "reused_identical_file": result.reused,
        "lineage": dg.MetadataValue.json(result.lineage)})


@dg.asset_check(asset=model_bundle, blocking=True,
                description="Every manifest hash matches, no file is missing or extra, the models load and replay the sample.")
def model_bundle_verifies(model_bundle: dict) -> dg.AssetCheckResult:
    from rexai_assets.serving.bundle import verify_bundle

    if not model_bundle.get("path"):
        # No champion and no pinned version: there is no bundle to verify, and serving runs on the heuristic.
        return dg.AssetCheckResult(passed=True, description=f"no bundle sealed: {model_bundle.get('reason')}",
                                   metadata={"sealed": False})
    report = verify_bundle(model_bundle["path"])
    return dg.AssetCheckResult(passed=report.ok, description=report.one_line(), metadata={
        "files_checked": report.files_checked, "replayed_recipes": report.replayed,
        "problems": dg.MetadataValue.json(report.problems[:50]), "warnings": dg.MetadataValue.json(report.warnings)})


# ---------------------------------------------------------------------------------------------
# recipe_recommendations


@dg.asset(group_name=SERVING, kinds={"pandas", "matplotlib"}, partitions_def=preset_partitions,
          deps=[model_bundle], automation_condition=dg.AutomationCondition.eager())
def recipe_recommendations(context: dg.AssetExecutionContext, storage: RexaiStorage, mlflow: MlflowTracking,
                           waste_inventory: pd.DataFrame, waste_materials: pd.DataFrame,
                           process_catalog: pd.DataFrame, mgs1_oxides: pd.DataFrame, mgs1_properties: pd.DataFrame,
                           material_datasheets: pd.DataFrame, target_presets: pd.DataFrame) -> dg.Output[dict]:
    """Ranked recipes for one target preset from the champion at run time (heuristic if none): intervals, novelty, drivers, Pareto front."""
    from rexai_assets.plots import markdown_image
    from rexai_assets.raw.tables import RawTables
    from rexai_assets.serving import recommend as rc
    from rexai_assets.serving.measured import load_measured
    from rexai_assets.models.scorer import ServingError, load_scorer, log_served

    started = time.perf_counter()
    tables = RawTables.from_assets(waste_inventory, waste_materials, process_catalog, mgs1_oxides, mgs1_properties,
                                   material_datasheets, target_presets)
    try:
        scorer = load_scorer(mlflow)
        rec = rc.recommend(tables, context.partition_key, scorer, measured=load_measured(storage.layout.measured_snapshot))
    except (rc.UnknownPreset, ServingError) as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    log_served(storage.layout.inference_log, "recipe_recommendations", scorer, rec.served(), rec.preset.name, started)
    paths = rc.write_outputs(rec, storage.layout.root / "recommendations")
    png = paths["png"].read_bytes()
    if rec.source != "model":
        context.log.warning(f"{rec.preset.name}: no champion, recommendations come from the heuristic (degraded mode)")
    return dg.Output(rec.to_dict(), metadata={
        "source": rec.source, "model_version": rec.model_version or "", **{k: int(v) for k, v in rec.counts.items()},
        "top_recipes": dg.MetadataValue.md(rc.markdown_table(rec)),
        "best_p_meets": float(rec.ranked["p_meets"].iloc[0]) if not rec.ranked.empty else 0.0,
        "calibrated_on": dg.MetadataValue.json(rec.calibrated_on or {}),
        "pareto_front": dg.MetadataValue.md(markdown_image(png, "pareto")),
        "json_path": dg.MetadataValue.path(str(paths["json"])), "plot_path": dg.MetadataValue.path(str(paths["png"])),
        "seconds_scoring": round(rec.seconds.get("score", 0.0), 4)})


recommendations_job = dg.define_asset_job(
    "recommendations_job", selection=dg.AssetSelection.assets(recipe_recommendations), partitions_def=preset_partitions,
    description="Ranked recipes for one target preset (partition) from the current champion.")
