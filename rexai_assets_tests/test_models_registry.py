"""MLflow tracking and registry (tmp sqlite store), loading by alias, serving with heuristic fallback."""

import json

import numpy as np
import pytest

from rexai_assets.models import registry
from rexai_assets.models.config import models_config
from rexai_assets.models.ensemble import train_ensemble
from rexai_assets.models.synthetic import make_synthetic_gold, synthetic_heuristic
from rexai_assets.models.tracking import track_and_register
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


def test_serving_degrades_to_heuristic_then_uses_champion(model, gold, cfg, tracking, tmp_path):
    from rexai_assets.models.scorer import ServingError, load_scorer

    assert load_scorer(tracking).source == "heuristic"  # no champion: degraded mode, said so
    record = track_and_register(model, tracking, tmp_path / "models", cfg)
    registry.promote_to_champion(tracking.client(), record.version)
    X = gold.X("golden")[:3]
    # The synthetic model's features are not the platform's contract: serving refuses it, with the reason.
    with pytest.raises(ServingError, match="feature contract"):
        load_scorer(tracking)
    champion, version = registry.load_model_by_alias(tracking, alias="champion",
                                                     expected_feature_order_hash=gold.feature_order_hash)
    assert str(version.version) == str(record.version)
    direct = model.predict(X)
    served = champion.predict(X)
    for key in ("value", "lo", "hi"):
        assert np.array_equal(served["water_l"][key], direct["water_l"][key])
    with pytest.raises(registry.FeatureContractMismatch):
        registry.load_model_by_alias(tracking, alias="champion", expected_feature_order_hash="f" * 64)
