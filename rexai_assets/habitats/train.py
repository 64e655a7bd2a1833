"""Training one habitat's adapter on the shared champion and registering it in MLflow as `rexai-habitat-<id>`."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from rexai_assets.habitat_config import AdapterSettings
from rexai_assets.habitats.rows import HabitatRows
from rexai_assets.models.adapters import (BASE_HASH_TAG, BASE_VERSION_TAG, CHALLENGER, HABITAT_TAG, HASH_TAG,
                                          AdapterData, BaseModel, HabitatAdapter, fit_adapter, honest_interval,
                                          model_hash_of, registered_name)
from rexai_assets.models.conformal import TargetScale

ARTIFACT_PATH = "adapter"


@dataclass(frozen=True)
class SharedChampion:
    """The frozen base: the shared champion as loaded from the registry."""

    model: Any
    version: str

    @property
    def identity(self) -> BaseModel:
        return BaseModel(str(model_hash_of(self.model)), self.version, self.model.feature_order_hash)


def load_shared_champion(mlflow: Any, feature_order_hash: str) -> SharedChampion | None:
    from rexai_assets.models.registry import CHAMPION, load_model_by_alias

    found = load_model_by_alias(mlflow, CHAMPION, expected_feature_order_hash=feature_order_hash)
    return None if found is None else SharedChampion(found[0], str(found[1].version))


# (dataset hash, base model hash) -> out-of-fold values: habitats trained in one process share the cross-fit.
_OUT_OF_FOLD: dict[tuple[str, str], pd.DataFrame] = {}


def out_of_fold_shared(gold: Any, base: SharedChampion) -> pd.DataFrame:
    """The shared model's out-of-fold values on the measured rows its correction trains on, by observation_id.

    On a row it trained on, the champion's served value has absorbed part of that row's own difference, so
    `measurement - served` would teach the adapter too small a correction and calibrate its intervals on
    too small residuals. The champion's own cross-fitting (models/ensemble.py `fit_correction`, the same
    code, folds and seed on the same rows) predicts each such row with a fold model that never saw it."""
    from rexai_assets.models.config import models_config
    from rexai_assets.models.ensemble import MemberChoice, fit_correction

    key = (gold.dataset_hash, base.identity.model_hash)
    if key not in _OUT_OF_FOLD:
        model = base.model
        choice = MemberChoice(candidates=dict(model.members), weights=model.weights, simulated={}, selection={})
        fit = fit_correction(gold, choice, model.forest, models_config())
        _OUT_OF_FOLD.clear()  # one entry is all a run needs; never hold several datasets
        _OUT_OF_FOLD[key] = pd.DataFrame(fit.oof_values, columns=list(model.target_names),
                                         index=fit.rows["observation_id"].astype(str).to_numpy())
    return _OUT_OF_FOLD[key]


def adapter_data(gold: Any, rows: HabitatRows, base: SharedChampion, scales: Mapping[str, TargetScale]) -> AdapterData:
    """The habitat's training rows with honest shared values: out-of-fold where the shared correction trained
    on the row, the champion's served value elsewhere (rows it never saw); and the shared interval moved onto
    them on each target's scale (`models.adapters.honest_interval`)."""
    frame = rows.training
    X = frame[list(gold.feature_names)].to_numpy(np.float64)
    targets = list(gold.target_names)
    pred = base.model.predict(X) if len(X) else {t: {k: np.zeros(0) for k in ("value", "lo", "hi")} for t in targets}
    served = np.column_stack([pred[t]["value"] for t in targets])
    oof = out_of_fold_shared(gold, base).reindex(frame["observation_id"].astype(str).to_numpy()).to_numpy(np.float64)
    honest = np.where(np.isnan(oof), served, oof)
    bounds = [honest_interval(pred[t], honest[:, j], scales[t], t) for j, t in enumerate(targets)]
    return AdapterData(X=X, Y=frame[targets].to_numpy(np.float64), W=frame["weight"].to_numpy(np.float64),
                       trusted=frame["label_source"].astype(str).isin(list(gold.trusted_sources)).to_numpy(),
                       groups=frame["recipe_id"].astype(str).to_numpy(), base=honest,
                       base_lo=np.column_stack([b[0] for b in bounds]), base_hi=np.column_stack([b[1] for b in bounds]))


def train_adapter(gold: Any, rows: HabitatRows, base: SharedChampion, cfg: AdapterSettings) -> HabitatAdapter:
    """The habitat's adapter on `base` (models/adapters.py), on the shared correction's target scales; a shared
    interval is checked with the gate's coverage test and level (quality_thresholds.yaml `coverage_test_level`)."""
    from rexai_assets.models.config import models_config
    from rexai_assets.models.correction import CorrectionConfig
    from rexai_assets.models.ensemble import CORRECTION_OFFSET_SHARE, measured_scale_candidates, target_scales
    from rexai_assets.models.rules import quality_thresholds

    models = models_config()
    targets = tuple(gold.target_names)
    residual = CorrectionConfig(min_rows=cfg.min_target_rows, **cfg.residual.model_dump())
    scales = target_scales(gold, CORRECTION_OFFSET_SHARE)
    adapter = fit_adapter(rows.habitat, adapter_data(gold, rows, base, scales), base.identity, targets, scales,
                          {t: measured_scale_candidates(gold, t) for t in targets}, residual, cfg.min_target_rows,
                          models.coverage_target, models.seed, cfg.gain_test_level,
                          quality_thresholds().coverage_test_level)
    adapter.metadata.update(dataset_hash=gold.dataset_hash, golden_rows=int(len(rows.golden)))
    return adapter


def version_tags(adapter: HabitatAdapter, dataset_hash: str, run_id: str | None) -> dict[str, str]:
    """What serving checks (habitat, base hash, the artefacts' hash) and the lineage (base version, dataset)."""
    return {HABITAT_TAG: adapter.habitat, BASE_HASH_TAG: adapter.base_model_hash,
            BASE_VERSION_TAG: str(adapter.base_model_version), HASH_TAG: adapter.model_hash,
            "dataset_hash": dataset_hash, "feature_order_hash": adapter.feature_order_hash,
            "adapted_targets": ",".join(adapter.adapted), "dagster_run_id": run_id or "none",
            "interval_sources": json.dumps(adapter.interval_sources(), sort_keys=True)}


def register_adapter(adapter: HabitatAdapter, mlflow: Any, dataset_hash: str, run_id: str | None = None) -> str:
    """Log the adapter to an MLflow run and register it as a new version of `rexai-habitat-<id>` (`challenger`)."""
    from rexai_assets.models.registry import register_version

    mlflow.ensure_experiment()
    with tempfile.TemporaryDirectory(prefix="rexai-adapter-") as tmp:
        local = Path(tmp) / ARTIFACT_PATH
        adapter.save(local)
        tags = version_tags(adapter, dataset_hash, run_id)
        client = mlflow.configure()
        with mlflow.start_run(run_name=f"{registered_name(adapter.habitat)}-{adapter.model_hash[:12]}", tags=tags) as run:
            client.log_metrics({f"{t}.oof_mae_{k}": float(v) for t, r in adapter.metadata["targets"].items()
                                for k, v in (("shared", r.get("oof_mae_shared")), ("adapted", r.get("oof_mae_adapted")))
                                if v is not None and np.isfinite(v)})
            client.log_artifacts(str(local), artifact_path=ARTIFACT_PATH)
            client.log_dict(json.loads(json.dumps(adapter.metadata, default=str)), "adapter_metadata.json")
            source = f"{run.info.artifact_uri.rstrip('/')}/{ARTIFACT_PATH}"
            return register_version(mlflow.client(), run.info.run_id, source, name=registered_name(adapter.habitat),
                                    alias=CHALLENGER, tags=tags)
