"""Tracking one training in MLflow and registering it: params, per-target metrics, artefacts, lineage tags,
a new registry version with alias `challenger`, and `models/<version>/metadata.json` on disk."""

from __future__ import annotations

import json
import math
import platform
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Iterable

from rexai_assets.atomic import write_text_atomic
from rexai_assets.models.config import ModelsConfig
from rexai_assets.hashing import jsonable
from rexai_assets.models.ensemble import TrainedEnsemble
from rexai_assets.models.registry import ARTIFACT_PATH, CHALLENGER, register_version
from rexai_assets.settings import REPO_ROOT

LIBRARIES = ("scikit-learn", "torch", "numpy", "pandas", "mlflow", "dagster")
BATCH = 100  # MLflow accepts at most 100 params per batch


@dataclass(frozen=True)
class TrainingRecord:
    registered_model: str
    version: str
    alias: str
    run_id: str
    model_hash: str
    artifact_uri: str
    metadata_path: Path
    metadata: dict


def git_commit(repo: Path = REPO_ROOT) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def training_tags(ensemble: TrainedEnsemble, dagster_run_id: str | None, model_hash: str) -> dict[str, str]:
    meta = ensemble.metadata
    tags = {
        "dagster_run_id": dagster_run_id or "none",
        "dataset_hash": str(meta.get("dataset_hash", "")),
        "config_hash": str(meta.get("config_hash", "")),
        "models_config_hash": str(meta.get("models_config_hash", "")),
        "feature_order_hash": ensemble.feature_order_hash,
        "model_hash": model_hash,
        "git_commit": git_commit(),
        "trained_on": str(meta.get("trained_on", "")),
        "calibrated_on": json.dumps(meta.get("calibrated_on") or {}, sort_keys=True),
        "training_seconds": f"{float(meta.get('training_seconds_total', 0.0)):.3f}",
        "library_versions": json.dumps(library_versions(), sort_keys=True),
    }
    tags.update({f"version.{k}": v for k, v in library_versions().items()})
    return tags


def flat_params(cfg: ModelsConfig, ensemble: TrainedEnsemble) -> dict[str, str]:
    params: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        else:
            params[prefix] = json.dumps(value) if isinstance(value, (list, tuple)) else str(value)

    walk("", {k: v for k, v in cfg.model_dump().items() if k != "profiles"})
    params["n_features"] = str(len(ensemble.feature_names))
    params["targets"] = ",".join(ensemble.target_names)
    for target, weights in ensemble.weights.items():
        params[f"weights.{target}"] = json.dumps(weights, sort_keys=True)
    return params


def metric_items(metadata: dict) -> dict[str, float]:
    """`<model>.<split>.<target>.<metric>` for every finite metric, plus unit-free aggregates."""
    out: dict[str, float] = {}
    for model, splits in metadata.get("metrics", {}).items():
        for split, targets in splits.items():
            for target, values in targets.items():
                for metric, value in values.items():
                    out[f"{model}.{split}.{target}.{metric}"] = float(value)
    for model, splits in metadata.get("aggregate_normalised_mae", {}).items():
        for split, value in splits.items():
            out[f"{model}.{split}.normalised_mae"] = float(value)
    for member, seconds in metadata.get("train_seconds", {}).items():
        out[f"train_seconds.{member}"] = float(seconds)
    return {k: v for k, v in out.items() if math.isfinite(v)}


def _chunks(items: dict, size: int) -> Iterable[dict]:
    keys = sorted(items)
    for start in range(0, len(keys), size):
        yield {k: items[k] for k in keys[start:start + size]}


def track_and_register(ensemble: TrainedEnsemble, mlflow_resource: Any, models_dir: str | Path, cfg: ModelsConfig,
                       dagster_run_id: str | None = None, alias: str = CHALLENGER) -> TrainingRecord:
    """Log one training to MLflow, register it as a new version with `alias`, write its metadata.json."""
    models_dir = Path(models_dir)
    name = mlflow_resource.registered_model_name
    mlflow_resource.ensure_experiment()
    with tempfile.TemporaryDirectory(prefix="rexai-train-") as tmp:
        local = Path(tmp) / ARTIFACT_PATH
        model_hash = ensemble.save(local)
        tags = training_tags(ensemble, dagster_run_id, model_hash)
        mlflow = mlflow_resource.configure()
        with mlflow_resource.start_run(run_name=f"rexai-{model_hash[:12]}", tags=tags) as run:
            for chunk in _chunks(flat_params(cfg, ensemble), BATCH):
                mlflow.log_params(chunk)
            for chunk in _chunks(metric_items(ensemble.metadata), 500):
                mlflow.log_metrics(chunk)
            mlflow.log_artifacts(str(local), artifact_path=ARTIFACT_PATH)
            artifact_uri = f"{run.info.artifact_uri.rstrip('/')}/{ARTIFACT_PATH}"
            version_tags = {k: tags[k] for k in ("dataset_hash", "config_hash", "feature_order_hash", "model_hash",
                                                 "trained_on", "dagster_run_id", "git_commit")}
            version = register_version(mlflow_resource.client(), run.info.run_id, artifact_uri, name=name,
                                       alias=alias, tags=version_tags)
            metadata = jsonable({
                **ensemble.metadata, "registered_model": name, "version": version, "alias": alias,
                "run_id": run.info.run_id, "model_hash": model_hash, "artifact_uri": artifact_uri,
                "tags": tags})
            # Also beside the artefacts, so a downloaded model directory knows its version and run.
            # metadata.json is outside model_hash, so this does not change the hash.
            mlflow.log_dict(metadata, "metadata.json")
            mlflow.log_dict(metadata, f"{ARTIFACT_PATH}/metadata.json")
            mlflow.set_tag("registered_version", version)
    text = json.dumps(metadata, indent=2, sort_keys=True) + "\n"
    path = write_text_atomic(models_dir / version / "metadata.json", text)
    write_text_atomic(models_dir / "metadata.json", text)
    return TrainingRecord(name, version, alias, run.info.run_id, model_hash, artifact_uri, path, metadata)
