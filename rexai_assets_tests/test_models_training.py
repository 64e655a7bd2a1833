"""Training on tiny synthetic gold: speed, intervals, reproducibility, masks, persistence."""

import numpy as np
import pytest

from rexai_assets.models.boosting import fit_boosting
from rexai_assets.models.config import models_config
from rexai_assets.models.ensemble import FeatureContractMismatch, TrainedEnsemble, train_ensemble
from rexai_assets.models.forest import fit_forest
from rexai_assets.models.synthetic import make_synthetic_gold, synthetic_heuristic
from rexai_assets.models.torch_models import fit_tab_transformer


@pytest.fixture(scope="module")
def gold():
    return make_synthetic_gold(1200, seed=11)


@pytest.fixture(scope="module")
def small_cfg():
    return models_config("small").model_copy(update={"threads": 1})


@pytest.fixture(scope="module")
def trained(gold, small_cfg):
    return train_ensemble(gold, small_cfg, heuristic=synthetic_heuristic)


def test_tiny_training_predicts_with_intervals(trained, gold):
    X = gold.X("test")
    pred = trained.predict(X)
    assert set(pred) == set(gold.target_names)
    for target, p in pred.items():
        assert p["value"].shape == (len(X),)
        assert np.all(p["lo"] <= p["value"] + 1e-12) and np.all(p["value"] <= p["hi"] + 1e-12)
    assert np.all((pred["rigidity"]["lo"] >= 0) & (pred["rigidity"]["hi"] <= 1))
    frame = trained.predict_frame(gold.split_frame("test"))
    assert list(frame.columns[:3]) == ["rigidity", "rigidity_lo", "rigidity_hi"]
    assert np.allclose(frame["crew_min"], pred["crew_min"]["value"])
    assert trained.latent(X[:4]).shape == (4, models_config("small").autoencoder.latent_dim)
    assert trained.novelty(X[:4]).shape == (4,)


def test_metadata_records_metrics_coverage_and_selection(trained, gold):
    meta = trained.metadata
    for target in gold.target_names:
        assert 0.85 <= meta["coverage"]["val"][target] <= 1.0
        assert meta["coverage"]["golden"][target] > 0.8
        for model in ("ensemble", "forest", "boosting", "heuristic"):
            assert {"mae", "rmse", "r2", "n"} <= set(meta["metrics"][model]["golden"][target])
        versus = meta["golden_vs_heuristic"][target]
        assert versus["beats"] and versus["model_mae"] < versus["heuristic_mae"]
        record = meta["selection"][target]
        assert sum(record["weights"].values()) == pytest.approx(1.0)
        # The TabTransformer is served only where it lowered the selection-half error.
        if record["tab_transformer_used"]:
            assert record["mae_with_tab_transformer"] < record["mae_without_tab_transformer"]
    assert "golden_measured" in meta["coverage"]
    assert meta["trained_on"] == "hybrid_v1"
    assert meta["aggregate_normalised_mae"]["ensemble"]["golden"] < meta["aggregate_normalised_mae"]["heuristic"]["golden"]


def test_trained_on_synthetic_only(small_cfg):
    gold = make_synthetic_gold(600, seed=5, measured_share=0.0)
    cfg = small_cfg.model_copy(update={"ensemble": small_cfg.ensemble.model_copy(update={"candidates": ("forest", "boosting")})})
    model = train_ensemble(gold, cfg, heuristic=synthetic_heuristic)
    assert model.metadata["trained_on"] == "synthetic_v0"
    assert model.tab_transformer is None


def test_same_seed_same_gold_identical_predictions_and_hash(trained, gold, small_cfg, tmp_path):
    again = train_ensemble(gold, small_cfg, heuristic=synthetic_heuristic)
    X = gold.X("golden")
    a, b = trained.predict(X), again.predict(X)
    for target in gold.target_names:
        for key in ("value", "lo", "hi"):
            assert np.array_equal(a[target][key], b[target][key])
    assert np.array_equal(trained.novelty(X), again.novelty(X))
    assert trained.save(tmp_path / "a") == again.save(tmp_path / "b")
    other = train_ensemble(gold, small_cfg.model_copy(update={"seed": small_cfg.seed + 1}), heuristic=synthetic_heuristic)
    assert other.save(tmp_path / "c") != trained.model_hash


def test_save_load_round_trip(trained, gold, tmp_path):
    model_hash = trained.save(tmp_path / "model")
    loaded = TrainedEnsemble.load(tmp_path / "model")
    assert loaded.model_hash == model_hash
    assert loaded.feature_names == trained.feature_names and loaded.weights == trained.weights
    X = gold.X("test")
    a, b = trained.predict(X), loaded.predict(X)
    assert all(np.array_equal(a[t][k], b[t][k]) for t in a for k in ("value", "lo", "hi"))
    assert np.array_equal(trained.latent(X), loaded.latent(X))
    assert loaded.metadata["model_hash"] == model_hash
    # Flipping one byte of an artefact changes the hash.
    path = tmp_path / "model" / "ensemble.json"
    path.write_text(path.read_text().replace('"format_version":2', '"format_version":2 '))
    assert TrainedEnsemble.load(tmp_path / "model").model_hash != model_hash


def test_feature_width_and_names_are_enforced(trained, gold):
    with pytest.raises(FeatureContractMismatch):
        trained.predict(gold.X("test")[:, :-1])
    with pytest.raises(FeatureContractMismatch, match="lacks"):
        trained.predict_frame(gold.split_frame("test").drop(columns=[gold.feature_names[0]]))


def _corrupted(gold):
    """Train arrays with NaN labels, the same labels corrupted, and the explicit mask."""
    X, Y, W = gold.X("train"), gold.Y("train"), gold.W("train")
    mask = ~np.isnan(Y)
    assert (~mask).any(), "the fixture needs masked train cells"
    corrupt = np.where(mask, Y, 1e6)
    return X, Y, W, mask, corrupt


def test_masked_targets_do_not_count_sklearn(gold, small_cfg):
    X, Y, W, mask, corrupt = _corrupted(gold)
    Xv = gold.X("val")
    names = tuple(gold.target_names)
    a = fit_forest(X, Y, W, names, small_cfg.forest, seed=1)
    b = fit_forest(X, corrupt, W, names, small_cfg.forest, seed=1, mask=mask)
    assert np.array_equal(a.predict(Xv), b.predict(Xv))
    a = fit_boosting(X, Y, W, names, small_cfg.boosting, seed=1)
    b = fit_boosting(X, corrupt, W, names, small_cfg.boosting, seed=1, mask=mask)
    assert np.array_equal(a.predict(Xv), b.predict(Xv))
    # Sanity: treating the corrupted cells as labels does change the model.
    c = fit_forest(X, corrupt, W, names, small_cfg.forest, seed=1, mask=np.ones_like(mask))
    assert not np.array_equal(a.predict(Xv), c.predict(Xv))


def test_masked_targets_do_not_count_torch(gold, small_cfg):
    X, Y, W, mask, corrupt = _corrupted(gold)
    names = tuple(gold.target_names)
    cfg = small_cfg.tab_transformer.model_copy(update={"epochs": 1})
    a = fit_tab_transformer(X, Y, W, names, cfg, seed=3)
    b = fit_tab_transformer(X, corrupt, W, names, cfg, seed=3, mask=mask)
    assert all(np.array_equal(a.weights[k], b.weights[k]) for k in a.weights)
    assert np.isfinite(a.history).all()
    c = fit_tab_transformer(X, np.where(mask, Y, 5.0), W, names, cfg, seed=3, mask=np.ones_like(mask))
    assert not all(np.array_equal(a.weights[k], c.weights[k]) for k in a.weights)


def test_weights_change_the_fit(gold, small_cfg):
    X, Y, W = gold.X("train"), gold.Y("train"), gold.W("train")
    names = tuple(gold.target_names)
    heavy = np.where(X[:, 0] > 0.5, 50.0, 1.0)
    a = fit_boosting(X, Y, W, names, small_cfg.boosting, seed=1)
    b = fit_boosting(X, Y, heavy, names, small_cfg.boosting, seed=1)
    assert not np.array_equal(a.predict(gold.X("val")), b.predict(gold.X("val")))


def test_target_without_labels_is_a_clear_error(gold, small_cfg):
    X, Y, W = gold.X("train"), gold.Y("train"), gold.W("train")
    Y = Y.copy()
    Y[:, 2] = np.nan
    with pytest.raises(ValueError, match="energy_kwh"):
        fit_forest(X, Y, W, tuple(gold.target_names), small_cfg.forest, seed=1)


def test_torch_members_pickle_their_weights_not_their_network(gold, small_cfg):
    """Both torch members build their network once, on first use, and pickle without it (the IO
    manager stores members between steps); the copy rebuilds the same network from the weights."""
    import pickle

    from rexai_assets.models.torch_models import fit_autoencoder

    X, Y, W = gold.X("train"), gold.Y("train"), gold.W("train")
    Xv = gold.X("val")[:50]
    transformer = fit_tab_transformer(X, Y, W, tuple(gold.target_names),
                                      small_cfg.tab_transformer.model_copy(update={"epochs": 1}), seed=3)
    autoencoder = fit_autoencoder(X, small_cfg.autoencoder.model_copy(update={"epochs": 1}), seed=3)
    networks = {"tab_transformer": "TabTransformerNet", "autoencoder": "AutoencoderNet"}
    for member, score in ((transformer, transformer.predict), (autoencoder, autoencoder.novelty)):
        first = score(Xv)
        built = member._module
        assert type(built).__name__ == networks[member.name]
        score(Xv)
        assert member._module is built  # kept, not rebuilt per call
        copy = pickle.loads(pickle.dumps(member))
        assert "_module" not in copy.__dict__
        assert np.array_equal(getattr(copy, score.__name__)(Xv), first)
