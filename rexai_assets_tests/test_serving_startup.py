"""`rexai recommend` start-up: the alias pointer (no MLflow while the registry is unchanged) and the score
cache (no scikit-learn or torch for a pool this champion already scored), with the answer unchanged."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from rexai_assets.models import registry
from rexai_assets.models.alias_pointer import registry_stamp
from rexai_assets.models.score_cache import MAX_ENTRIES, MIN_ROWS, ScoreCache, ScoredPool, pool_key
from rexai_assets.models.scorer import scorer_from_card
from rexai_assets.paths import layout

HEAVY = ("mlflow", "torch", "sklearn", "dagster")


@pytest.fixture
def gold():
    from rexai_assets.models.testing import small_gold
    from rexai_assets.raw.tables import load_raw_tables

    data = layout().ensure()
    return small_gold(load_raw_tables(data.raw), size=300, raw_dir=data.raw)


def register(model) -> str:
    from rexai_assets.models.config import models_config
    from rexai_assets.models.tracking import track_and_register
    from rexai_assets.resources import build_resources

    mlflow = build_resources()["mlflow"]
    record = track_and_register(model, mlflow, layout().models, models_config())
    registry.promote_to_champion(mlflow.client(), record.version)
    return record.version


def recommend_in_subprocess(target: str = "Container") -> tuple[dict, list[str]]:
    """`rexai recommend --json` in a fresh interpreter: its answer and the heavy modules it imported."""
    code = ("import sys; from rexai_assets.cli import main; rc = main(['recommend', '--target', %r, '--json']); "
            "print(rc, sorted(m for m in %r if m in sys.modules), file=sys.stderr)" % (target, HEAVY))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    rc, loaded = done.stderr.strip().splitlines()[-1].split(" ", 1)
    assert rc == "0", done.stderr
    return json.loads(done.stdout), json.loads(loaded.replace("'", '"'))


def test_warm_recommend_imports_no_model_library_and_answers_the_same(gold, config_override):
    from rexai_assets.models.testing import small_ensemble

    config_override("serving.yaml", {"recommendations": {"candidates": 1200, "top_n": 4}})
    first = register(small_ensemble(gold, autoencoder=True))
    cold, cold_loaded = recommend_in_subprocess()
    warm, warm_loaded = recommend_in_subprocess()
    assert cold["model_version"] == warm["model_version"] == first
    assert {"mlflow", "torch", "sklearn"} <= set(cold_loaded)
    assert warm_loaded == []  # alias from the pointer, pool from the score cache: nothing heavy imported
    assert warm == cold  # byte-for-byte the same answer, novelty included

    # Any registry change invalidates the pointer: a new champion answers at the very next call.
    second = register(small_ensemble(gold, n_estimators=5, autoencoder=False, seed=9))
    newer, newer_loaded = recommend_in_subprocess()
    assert newer["model_version"] == second != first and "mlflow" in newer_loaded
    assert newer["recommendations"] != cold["recommendations"] or newer["pareto_front"] != cold["pareto_front"]


def test_alias_pointer_is_used_only_while_the_registry_is_unchanged(gold, monkeypatch):
    from rexai_assets.models.testing import small_ensemble
    from rexai_assets.models.scorer import tracking_uri

    uri = tracking_uri()
    assert registry.resolve_alias(uri) is None  # no champion yet: remembered too
    version = register(small_ensemble(gold, n_estimators=3, autoencoder=False))
    info = registry.resolve_alias(uri)
    assert info is not None and info.version == version

    def no_mlflow(*_args, **_kwargs):
        raise AssertionError("MLflow was asked although the alias did not move")

    def resolved_without_mlflow():
        with pytest.MonkeyPatch.context() as patch:  # only this patch: the isolated environment stays
            patch.setattr(registry, "registry_client", no_mlflow)
            return registry.resolve_alias(uri)

    assert resolved_without_mlflow() == info
    # A write that leaves the alias where it was (a tag, a logged run): the alias row still agrees.
    registry.registry_client(uri)[0].set_model_version_tag("rexai", version, "note", "changes the stamp only")
    assert resolved_without_mlflow() == info
    # The alias moved: the pointer is stale and MLflow is asked.
    newer = register(small_ensemble(gold, n_estimators=2, autoencoder=False, seed=4))
    with pytest.raises(AssertionError, match="MLflow was asked"):
        resolved_without_mlflow()
    assert registry.resolve_alias(uri).version == newer != version
    assert registry_stamp("http://mlflow.example:5000") is None  # a server is always asked


class CountingModel:
    """A stand-in ensemble that counts how often it is asked."""

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, X):
        self.calls += 1
        return {"rigidity": {"value": X[:, 0], "lo": X[:, 0] - 1, "hi": X[:, 0] + 1}}

    def novelty(self, X):
        self.calls += 1
        return X[:, 1]


def test_score_cache_serves_the_same_pool_without_the_model(tmp_path):
    card = {"version": "3", "model_hash": "ab" * 32, "feature_order_hash": "f", "feature_names": ["a", "b"],
            "target_names": ["rigidity"], "calibrated_on": None, "coverage_target": 0.95, "importances": None,
            "novelty": True}
    cache = ScoreCache(tmp_path / "scores")
    X = np.random.default_rng(1).normal(size=(MIN_ROWS, 2))
    model = CountingModel()
    first = scorer_from_card(card, lambda: model, cache)
    predicted, novelty = first.predict(X), first.novelty(X)
    assert model.calls == 2  # one miss scores predictions and novelty together

    def never():
        raise AssertionError("the model was loaded for a cached pool")

    again = scorer_from_card(card, never, cache)
    assert np.array_equal(again.predict(X)["rigidity"]["hi"], predicted["rigidity"]["hi"])
    assert np.array_equal(again.novelty(X), novelty)
    # Another model hash, or other rows, is another entry; a few rows are never cached.
    assert pool_key(card["model_hash"], X) != pool_key("cd" * 32, X) != pool_key(card["model_hash"], X[::-1])
    small = scorer_from_card(card, lambda: model, cache)
    small.predict(X[:5])
    assert model.calls == 3 and len(list(cache.folder.glob("*.npz"))) == 1
    # A damaged entry is re-scored, never served; old entries are pruned.
    cache.path(pool_key(card["model_hash"], X)).write_bytes(b"not an npz")
    assert cache.get(pool_key(card["model_hash"], X), ("rigidity",)) is None
    for i in range(MAX_ENTRIES + 3):
        cache.put(f"{i:032x}" + "0" * 32, ScoredPool({"rigidity": {"value": X[:1, 0], "lo": X[:1, 0], "hi": X[:1, 0]}}, None))
    assert len(list(cache.folder.glob("*.npz"))) == MAX_ENTRIES
