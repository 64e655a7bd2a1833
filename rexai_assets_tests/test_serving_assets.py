"""The serving and benchmark assets under Dagster, with a real MLflow registry holding a champion."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd

from rexai_assets.raw.defs import defs as raw_defs
from rexai_assets.serving.defs import defs as serving_defs
from rexai_assets.paths import layout
from rexai_assets.serving.assets import model_bundle, model_bundle_verifies, recipe_recommendations, sync_preset_partitions
from rexai_assets.evaluation.benchmark_assets import ablation_job, benchmarks, feature_ablations

# The serving assets and the evaluation group's benchmark assets that score with the same champion.
ASSETS = [*serving_defs.assets, benchmarks, feature_ablations]
JOBS = [*serving_defs.jobs, ablation_job]


def register_champion(resources, model) -> str:
    from rexai_assets.models.config import models_config
    from rexai_assets.models.registry import promote_to_champion
    from rexai_assets.models.tracking import track_and_register

    record = track_and_register(model, resources["mlflow"], layout().models, models_config())
    promote_to_champion(resources["mlflow"].client(), record.version)
    return record.version


def test_bundle_recommendations_and_benchmarks_materialise(config_override):
    from rexai_assets.raw.tables import load_raw_tables
    from rexai_assets.resources import build_resources
    from rexai_assets.serving.bundle import verify_bundle
    from rexai_assets.models.testing import small_ensemble, small_gold

    config_override("serving.yaml", {"recommendations": {"candidates": 800, "top_n": 3}})
    config_override("bundle.yaml", {"replay": {"golden_rows": 4, "observation_rows": 4}})
    data = layout().ensure()
    tables = load_raw_tables(data.raw)
    gold = small_gold(tables, size=300, raw_dir=data.raw)
    resources = build_resources()
    version = register_champion(resources, small_ensemble(gold, autoencoder=False))

    @dg.asset(name="gold_dataset", group_name="gold", kinds={"python"})
    def gold_stand_in():
        """The gold dataset the champion was trained on."""
        return gold

    instance = dg.DagsterInstance.ephemeral()
    raw_selection = dg.AssetSelection.groups("raw").materializable()
    result = dg.materialize([*raw_defs.assets, gold_stand_in, *ASSETS, *serving_defs.asset_checks], instance=instance,
                            resources=resources,
                            selection=raw_selection | dg.AssetSelection.assets("gold_dataset", "model_bundle", "benchmarks"))
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert [(e.check_name, e.passed) for e in evaluations if e.asset_key == model_bundle.key] == [("model_bundle_verifies", True)]
    sealed = result.output_for_node("model_bundle")
    assert sealed["version"] == version and Path(sealed["path"]).name == f"rexai-v{version}-{sealed['sha256'][:12]}.zip"
    assert verify_bundle(sealed["path"]).ok
    metrics = result.output_for_node("benchmarks")
    assert set(metrics["model"]) == {"heuristic", "champion", "challenger"}
    assert {"scenario:multilayer_pouches", "scenario:foams_sintered", "scenario:cargo_struts_composite"} <= set(metrics["slice"])
    assert (data.benchmarks / "benchmarks.parquet").exists() and (data.benchmarks / "benchmarks.csv").exists()
    assert pd.read_parquet(data.benchmarks / "benchmarks.parquet").shape == metrics.shape

    # Sealing again from the same inputs gives the same file.
    again = dg.materialize([*raw_defs.assets, gold_stand_in, *ASSETS, *serving_defs.asset_checks], instance=instance,
                           resources=resources, selection=dg.AssetSelection.assets("gold_dataset", "model_bundle"))
    assert again.output_for_node("model_bundle")["sha256"] == sealed["sha256"]

    sync_preset_partitions(instance, [str(n) for n in tables.presets["name"]])
    defs = dg.Definitions(assets=[*raw_defs.assets, gold_stand_in, *ASSETS], asset_checks=serving_defs.asset_checks,
                          jobs=JOBS, resources=resources)
    recs = defs.resolve_job_def("recommendations_job").execute_in_process(instance=instance, partition_key="Utensil")
    assert recs.success
    output = recs.output_for_node("recipe_recommendations")
    assert output["source"] == "model" and output["model_version"] == version and output["target"]["name"] == "Utensil"
    assert len(output["recommendations"]) == 3
    for rec in output["recommendations"]:
        for target, cap in (("energy_kwh", 0.8), ("water_l", 0.1), ("crew_min", 20.0)):
            assert rec["prediction"][target]["lo"] <= cap
    metadata = recs.asset_materializations_for_node("recipe_recommendations")[0].metadata
    assert metadata["pareto_front"].value.startswith("![pareto](data:image/png;base64,")
    # p_meets and where the intervals were calibrated reach the UI (the table and their own entries).
    assert all(0.0 <= rec["p_meets"] <= 1.0 and isinstance(rec["interval_meets"], bool)
               for rec in output["recommendations"])
    assert "calibrated_on" in output and metadata["calibrated_on"].value == (output["calibrated_on"] or {})
    assert metadata["best_p_meets"].value == output["recommendations"][0]["p_meets"]
    table = metadata["top_recipes"].value
    assert "| # | recipe | p_meets | interval |" in table and "intervals calibrated on: " in table
    assert f"| {output['recommendations'][0]['p_meets']:.4f} |" in table
    assert (data.root / "recommendations" / "Utensil_pareto.png").exists()

    # A new champion: the next benchmark run plots the previous and the new one on the same rows.
    newer = register_champion(resources, small_ensemble(gold, n_estimators=5, autoencoder=False, seed=9))
    bench = dg.materialize([*raw_defs.assets, gold_stand_in, *ASSETS, *serving_defs.asset_checks], instance=instance,
                           resources=resources, selection=dg.AssetSelection.assets("gold_dataset", "benchmarks"))
    assert (data.benchmarks / f"champion_v{version}_to_v{newer}.png").exists()
    assert "champion_change" in bench.asset_materializations_for_node("benchmarks")[0].metadata


def test_ablation_job_writes_tables_and_plot(config_override):
    from rexai_assets.raw.tables import load_raw_tables
    from rexai_assets.resources import build_resources
    from rexai_assets.models.testing import small_gold

    config_override("benchmarks.yaml", {"ablation_model": {"max_iter": 10}})
    data = layout().ensure()
    gold = small_gold(load_raw_tables(data.raw), size=250)

    @dg.asset(name="gold_dataset", group_name="gold", kinds={"python"})
    def gold_stand_in():
        """A small gold dataset."""
        return gold

    defs = dg.Definitions(assets=[*raw_defs.assets, gold_stand_in, *ASSETS], jobs=JOBS, resources=build_resources())
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([gold_stand_in], instance=instance, resources=build_resources())
    result = defs.resolve_job_def("ablation_job").execute_in_process(instance=instance)
    assert result.success
    frame = result.output_for_node("feature_ablations")
    assert set(frame["group"]) >= {"none", "material_families", "regolith_oxides", "datasheet_properties", "process_costs"}
    for name in ("ablations.csv", "ablations.parquet", "ablations.png"):
        assert (data.benchmarks / name).exists()


def test_definitions_import_light_and_ablation_job():
    import subprocess
    import sys

    code = ("import sys; from rexai_assets.serving.defs import defs as s; from rexai_assets.evaluation.defs import defs as e; "
            "from rexai_assets.habitats.defs import defs as h; "
            "print(sorted(m for m in ('mlflow', 'torch', 'matplotlib', 'great_expectations', 'sklearn') if m in sys.modules)); "
            "print([a.key.to_user_string() for d in (s, e, h) for a in d.assets], sorted(j.name for d in (s, e, h) for j in d.jobs))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "[]"
    assert out[1] == ("['model_bundle', 'recipe_recommendations', 'model_evaluation', 'promotion_proposal', 'learning_benchmark', "
                      "'benchmarks', 'feature_ablations', 'prediction_ledger', 'learning_history', 'habitat_adapters'] "
                      "['ablation_job', 'habitat_adapter_job', 'ledger_job', 'recommendations_job', 'review_promotion']")
    assert recipe_recommendations.partitions_def.name == "target_presets"
    assert next(iter(recipe_recommendations.specs)).automation_condition is not None
    assert model_bundle_verifies.check_specs and next(iter(model_bundle_verifies.check_specs)).blocking
