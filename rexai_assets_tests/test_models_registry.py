"""MLflow tracking and registry (tmp sqlite store), loading by alias, serving with heuristic fallback."""

import json

import numpy as np
import pytest

from rexai_assets.models import registry
from rexai_assets.models.config import models_config
from rexai_assets.models.ensemble import train_ensemble
from rexai_assets.models.serving import load_predictor
from rexai_assets.models.synthetic import make_synthetic_gold, synthetic_heuristic
from rexai_assets.models.tracking import track_and_register
from rexai_assets.recipes import Recipe
from rexai_assets.resources import MlflowTracking


@pytest.fixture(scope="module")
def gold():
    return make_synthetic_gold(900, seed=21)


@pytest.fixture(scope="module")
def cfg():
    small = models_config("small")
    return small.model_copy(update={"threads": 1, "ensemble": small.ensemble.model_copy(update={"candidates": ("forest", "boosting")})})


@pytest.fixture(scope="module")
def model(gold, cfg):
    return train_ensemble(gold, cfg, heuristic=synthetic_heuristic)


@pytest.fixture
def tracking(tmp_path):
    (tmp_path / "mlflow").mkdir()
    return MlflowTracking(tracking_uri=f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}")


def test_training_is_tracked_tagged_and_registered_as_challenger(model, gold, cfg, tracking, tmp_path):
    record = track_and_register(model, tracking, tmp_path / "models", cfg, dagster_run_id="run-abc")
    client = tracking.client()
    run = client.get_run(record.run_id)
    tags = run.data.tags
    assert tags["dagster_run_id"] == "run-abc"
    assert tags["dataset_hash"] == gold.dataset_hash
    assert tags["feature_order_hash"] == gold.feature_order_hash
    assert tags["config_hash"] == model.metadata["config_hash"]
    assert tags["model_hash"] == record.model_hash
    assert tags["git_commit"]  # a commit id, or "unknown" outside a checkout
    assert float(tags["training_seconds"]) > 0
    versions = json.loads(tags["library_versions"])
    assert {"scikit-learn", "torch", "mlflow", "numpy"} <= set(versions)
    # Per-target metrics, never averaged across units; the aggregate is normalised per target.
    metrics = run.data.metrics
    assert "ensemble.val.energy_kwh.coverage" in metrics and "ensemble.golden.crew_min.mae" in metrics
    assert "ensemble.golden.normalised_mae" in metrics
    assert run.data.params["forest.n_estimators"] == str(cfg.forest.n_estimators)
    artifacts = {a.path for a in client.list_artifacts(record.run_id, "model")}
    assert {"model/ensemble.json", "model/forest.joblib"} <= artifacts
    # Registry: a new version holding the challenger alias, no champion yet.
    assert registry.get_alias_version(client, "challenger") == record.version == "1"
    assert registry.get_alias_version(client, "champion") is None
    info = registry.version_info(client, "rexai", record.version)
    assert "challenger" in info.aliases and info.tags["model_hash"] == record.model_hash
    # Artefacts sit beside the sqlite store, never under the working directory.
    assert str(tmp_path / "mlflow" / "artifacts") in record.artifact_uri
    # metadata.json per version and as latest.
    per_version = json.loads((tmp_path / "models" / "1" / "metadata.json").read_text())
    latest = json.loads((tmp_path / "models" / "metadata.json").read_text())
    assert per_version == latest
    for key in ("features", "targets", "metrics", "intervals_method", "dataset_hash", "feature_order_hash",
                "config_hash", "model_hash", "trained_on", "version"):
        assert key in per_version
    assert per_version["trained_on"] == "hybrid_v1" and per_version["version"] == "1"
    # A second training is a new version; the alias follows it.
    second = track_and_register(model, tracking, tmp_path / "models", cfg, dagster_run_id="run-def")
    assert second.version == "2" and registry.get_alias_version(client, "challenger") == "2"
    assert json.loads((tmp_path / "models" / "metadata.json").read_text())["version"] == "2"


def test_load_by_alias_promote_and_refuse_mismatch(model, gold, cfg, tracking, tmp_path):
    assert registry.load_model_by_alias(tracking, "champion", expected_feature_order_hash=gold.feature_order_hash) is None
    first = track_and_register(model, tracking, tmp_path / "models", cfg)
    second = track_and_register(model, tracking, tmp_path / "models", cfg)
    client = tracking.client()
    assert registry.promote_to_champion(client, first.version) is None
    assert registry.promote_to_champion(client, second.version) == first.version
    assert client.get_model_version("rexai", first.version).tags["archived"] == "true"
    assert client.get_model_version("rexai", second.version).tags["archived"] == "false"
    loaded, info = registry.load_model_by_alias(tracking.tracking_uri, "champion",
                                                expected_feature_order_hash=gold.feature_order_hash)
    assert info.version == second.version and loaded.model_hash == second.model_hash
    assert loaded.metadata["version"] == second.version and loaded.metadata["run_id"] == second.run_id
    X = gold.X("test")
    assert np.array_equal(loaded.predict(X)["rigidity"]["value"], model.predict(X)["rigidity"]["value"])
    with pytest.raises(registry.FeatureContractMismatch, match="feature_order_hash"):
        registry.load_model_by_alias(tracking, "champion", expected_feature_order_hash="0" * 64)
    # Rollback: the archived version becomes champion again and loses its archived mark.
    assert registry.promote_to_champion(client, first.version) == second.version
    assert client.get_model_version("rexai", first.version).tags["archived"] == "false"


def _fake_featurize(gold):
    """Recipes whose id names a golden row -> that row's features (stands in for featurize_recipes)."""
    golden = gold.split_frame("golden").set_index("recipe_id")

    def featurize(recipes, tables):
        return golden.loc[[r.recipe_id for r in recipes], list(gold.feature_names)]

    return featurize


def test_serving_degrades_to_heuristic_then_uses_champion(model, gold, cfg, tracking, tmp_path):
    ids = list(gold.split_frame("golden")["recipe_id"][:3])
    recipes = [Recipe((("W001", 1.0),), "P01", 0.0, rid) for rid in ids]
    predictor = load_predictor(tracking, tables=None, expected_feature_order_hash=gold.feature_order_hash,
                               featurize=_fake_featurize(gold), heuristic=synthetic_heuristic)
    out = predictor.predict_recipes(recipes)
    assert [o["recipe_id"] for o in out] == ids
    assert all(o["source"] == "heuristic" and o["model_version"] is None for o in out)
    features = _fake_featurize(gold)(recipes, None)
    expected = synthetic_heuristic(features)
    assert out[0]["prediction"]["crew_min"]["value"] == pytest.approx(expected["crew_min"].iloc[0])
    band = models_config().heuristic_interval
    value = out[1]["prediction"]["energy_kwh"]["value"]
    assert out[1]["prediction"]["energy_kwh"]["hi"] == pytest.approx(value * (1 + band.relative))
    json.dumps(out)  # JSON-ready
    record = track_and_register(model, tracking, tmp_path / "models", cfg)
    registry.promote_to_champion(tracking.client(), record.version)
    predictor = load_predictor(tracking, tables=None, expected_feature_order_hash=gold.feature_order_hash,
                               featurize=_fake_featurize(gold), heuristic=synthetic_heuristic)
    out = predictor.predict_recipes(recipes)
    assert all(o["source"] == "model" and o["model_version"] == record.version for o in out)
    direct = model.predict(features.to_numpy())
    for i in range(3):
        for key in ("value", "lo", "hi"):
            assert out[i]["prediction"]["water_l"][key] == pytest.approx(direct["water_l"][key][i])
    assert predictor.predict_recipes([]) == []
    with pytest.raises(registry.FeatureContractMismatch):
        load_predictor(tracking, tables=None, expected_feature_order_hash="f" * 64, featurize=_fake_featurize(gold))
