"""A small real gold set and ensemble over the real feature contract, trained in seconds (tests, bench).

Not a stand-in: the gold set is the gold layer's `build_gold_dataset` over a small candidate pool, and
the ensemble is a `TrainedEnsemble` with a small forest, conformal intervals calibrated on the
validation rows and (optionally) a briefly trained autoencoder for novelty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def small_gold(tables: Any, size: int = 500, seed: int = 5, raw_dir: Path | None = None) -> Any:
    """Gold over `size` simulated candidates; with `raw_dir`, its lineage records the raw file hashes."""
    from rexai_assets.gold.candidates import recipe_candidates_pool
    from rexai_assets.gold.dataset import build_gold_dataset
    from rexai_assets.hashing import sha256_file

    hashes = ({p.relative_to(raw_dir).as_posix(): sha256_file(p) for p in sorted(Path(raw_dir).rglob("*")) if p.is_file()}
              if raw_dir else None)
    return build_gold_dataset(tables, recipe_candidates_pool(tables, size=size, seed=seed), raw_hashes=hashes)


def small_ensemble(gold: Any, n_estimators: int = 8, autoencoder: bool = True, seed: int = 3) -> Any:
    from rexai_assets.models.config import ForestConfig, models_config
    from rexai_assets.models.conformal import TargetInterval, calibrate
    from rexai_assets.models.ensemble import TrainedEnsemble, target_scales
    from rexai_assets.models.forest import fit_forest

    forest = fit_forest(gold.X("train"), gold.Y("train"), gold.W("train"), tuple(gold.target_names),
                        ForestConfig(n_estimators=n_estimators), seed, 1)
    Xv, Yv = gold.X("val"), gold.Y("val")
    mean, spread = forest.predict_with_spread(Xv)
    intervals, scales = {}, target_scales(gold)
    for j, target in enumerate(gold.target_names):
        labelled = ~np.isnan(Yv[:, j])
        simulated = calibrate(Yv[labelled, j], mean[labelled, j], spread[labelled, j], 0.95)
        intervals[target] = TargetInterval("simulated", 0.95, scales[target], simulated)
    ae = None
    if autoencoder:
        from rexai_assets.models.torch_models import fit_autoencoder

        cfg = models_config().autoencoder.model_copy(update={"epochs": 2})
        ae = fit_autoencoder(gold.X("train"), cfg, seed, 1, x_mean=gold.norm_mean.to_numpy(),
                             x_std=gold.norm_std.to_numpy())
    return TrainedEnsemble(
        feature_names=tuple(gold.feature_names), target_names=tuple(gold.target_names),
        feature_order_hash=gold.feature_order_hash, forest=forest, boosting=None, tab_transformer=None,
        autoencoder=ae, weights={t: {"forest": 1.0} for t in gold.target_names}, intervals=intervals,
        metadata={"dataset_hash": gold.dataset_hash, "config_hash": gold.config_hash,
                  "feature_order_hash": gold.feature_order_hash, "trained_on": "synthetic_v0",
                  "calibrated_on": {t: "simulated" for t in gold.target_names}, "coverage_target": 0.95})


def saved_small_ensemble(gold: Any, directory: Path, **kwargs: Any) -> Path:
    small_ensemble(gold, **kwargs).save(directory)
    return Path(directory)
