"""The models group under Dagster on a small real gold set: trains, tracks, registers, checks pass."""

import json
import sys

import dagster as dg
import pytest

from rexai_assets.gold.defs import defs as gold_defs
from rexai_assets.models.defs import defs as models_defs
from rexai_assets.raw.defs import defs as raw_defs
from rexai_assets.paths import layout


@pytest.fixture
def small_world(config_override):
    config_override("gold.yaml", {"pool_size": 1200})
    config_override("models.yaml", {"profile": "small", "threads": 1})


def test_models_group_materialises_registers_and_passes_checks(small_world):
    from rexai_assets.models import registry
    from rexai_assets.resources import build_resources

    resources = build_resources()
    result = dg.materialize([*raw_defs.assets, *gold_defs.assets, *models_defs.assets, *models_defs.asset_checks],
                            instance=dg.DagsterInstance.ephemeral(), resources=resources,
                            selection=dg.AssetSelection.groups("raw", "gold", "models").materializable())
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {"rexai_regressor_interval_coverage", "rexai_regressor_beats_heuristic"}
    assert all(e.passed for e in evaluations.values()), {k: e.metadata for k, e in evaluations.items()}

    ensemble = result.output_for_node("rexai_regressor")
    dataset = result.output_for_node("gold_dataset")
    assert ensemble.feature_order_hash == dataset.feature_order_hash
    meta = result.asset_materializations_for_node("rexai_regressor")[0].metadata
    assert meta["version"].value == "1" and meta["alias"].value == "challenger"
    assert meta["dataset_hash"].value == dataset.dataset_hash

    client = resources["mlflow"].client()
    assert registry.get_alias_version(client, "challenger") == "1"
    run = client.get_run(meta["mlflow_run_id"].value)
    assert run.data.tags["dagster_run_id"] == result.run_id
    data = layout()
    written = json.loads((data.models / "1" / "metadata.json").read_text())
    assert written["trained_on"] == "synthetic_v0" and written["model_hash"] == meta["model_hash"].value
    assert (data.mlflow / "mlflow.db").exists() and (data.mlflow / "artifacts").is_dir()

    # Loading with the current contract's hash (the default) works; predictions match the asset's model.
    loaded, info = registry.load_model_by_alias(resources["mlflow"], "challenger")
    X = dataset.X("golden")
    assert info.version == "1"
    assert (loaded.predict(X)["tightness"]["value"] == ensemble.predict(X)["tightness"]["value"]).all()


def test_definitions_module_stays_light():
    import subprocess

    code = ("import sys, rexai_assets.models.defs; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'mlflow', 'sklearn'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
    assert {a.key.to_user_string() for a in models_defs.assets} == {
        "gradient_boosting_models", "tab_transformer", "recipe_autoencoder", "rexai_regressor"}
    assert all(a.group_names_by_key[a.key] == "models" for a in models_defs.assets)
