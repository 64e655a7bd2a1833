"""The MLflow model registry for `rexai`: versions, aliases (never the deprecated stages) and loading.

Loading reads a version's artefacts from the local cache (`<data root>/models/cache/`, named by name,
version, run and source: a registered version's artefacts never change), downloading them from MLflow
the first time. Aliases are resolved on every call: from the alias pointer while the registry database
is unchanged since it was written, else through MLflow (`alias_pointer.py`). A model whose feature
order differs from the current feature contract is refused with `FeatureContractMismatch`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rexai_assets.models.ensemble import FeatureContractMismatch, TrainedEnsemble

REGISTERED_MODEL = "rexai"
CHAMPION = "champion"
CHALLENGER = "challenger"
ARCHIVED_TAG = "archived"
ARTIFACT_PATH = "model"

__all__ = ["FeatureContractMismatch", "ModelVersionInfo", "REGISTERED_MODEL", "CHAMPION", "CHALLENGER",
           "registry_client", "ensure_registered_model", "register_version", "set_alias", "get_alias_version",
           "promote_to_champion", "version_info", "load_model_by_alias", "load_model_version",
           "verify_feature_order"]


@dataclass(frozen=True)
class ModelVersionInfo:
    name: str
    version: str
    run_id: str | None
    source: str
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)


def registry_client(mlflow_resource_or_uri: Any) -> tuple[Any, str]:
    """(MlflowClient, registered model name) from an `MlflowTracking` resource or a tracking URI."""
    if isinstance(mlflow_resource_or_uri, str):
        import mlflow
        from mlflow.tracking import MlflowClient

        mlflow.set_tracking_uri(mlflow_resource_or_uri)
        mlflow.set_registry_uri(mlflow_resource_or_uri)
        return MlflowClient(tracking_uri=mlflow_resource_or_uri, registry_uri=mlflow_resource_or_uri), REGISTERED_MODEL
    return mlflow_resource_or_uri.client(), getattr(mlflow_resource_or_uri, "registered_model_name", REGISTERED_MODEL)


def _missing(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(exc).lower()


def ensure_registered_model(client: Any, name: str = REGISTERED_MODEL) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if not _missing(exc):
            raise
        try:
            client.create_registered_model(name, description="Rex-AI recipe property ensemble")
        except MlflowException as create_exc:
            # Another training created it between our two calls.
            if getattr(create_exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                raise


def register_version(client: Any, run_id: str, source: str, name: str = REGISTERED_MODEL,
                     alias: str | None = CHALLENGER, tags: dict[str, str] | None = None) -> str:
    """A new version of `name` from the run's artefacts at `source`; `alias` (default challenger) moves to it."""
    ensure_registered_model(client, name)
    mv = client.create_model_version(name=name, source=source, run_id=run_id,
                                     tags={k: str(v) for k, v in (tags or {}).items()})
    if alias:
        set_alias(client, mv.version, alias, name)
    return str(mv.version)


def set_alias(client: Any, version: str | int, alias: str, name: str = REGISTERED_MODEL) -> None:
    client.set_registered_model_alias(name, alias, str(version))


def get_alias_version(client: Any, alias: str, name: str = REGISTERED_MODEL) -> str | None:
    """The version `alias` points at, or None when the alias (or the registered model) does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if _missing(exc) or getattr(exc, "error_code", "") == "INVALID_PARAMETER_VALUE":
            return None
        raise


def promote_to_champion(client: Any, version: str | int, name: str = REGISTERED_MODEL) -> str | None:
    """Move alias `champion` to `version`; tag the previous champion `archived=true`; return its version.

    A version that becomes champion again (a rollback) loses its `archived` tag."""
    version = str(version)
    previous = get_alias_version(client, CHAMPION, name)
    client.get_model_version(name, version)  # fails clearly if the version does not exist
    set_alias(client, version, CHAMPION, name)
    client.set_model_version_tag(name, version, ARCHIVED_TAG, "false")
    if previous is not None and previous != version:
        client.set_model_version_tag(name, previous, ARCHIVED_TAG, "true")
    return previous


def version_info(client: Any, name: str, version: str | int) -> ModelVersionInfo:
    mv = client.get_model_version(name, str(version))
    return ModelVersionInfo(name=name, version=str(mv.version), run_id=mv.run_id, source=mv.source,
                            aliases=tuple(getattr(mv, "aliases", ()) or ()), tags=dict(mv.tags or {}))


def current_feature_order_hash() -> str:
    from rexai_assets.gold.contract import feature_order_hash

    return feature_order_hash()


def verify_feature_order(model: TrainedEnsemble, expected: str | None = None, what: str = "model") -> None:
    """Raise `FeatureContractMismatch` unless the model was trained on the current feature order."""
    expected = expected if expected is not None else current_feature_order_hash()
    if model.feature_order_hash != expected:
        raise FeatureContractMismatch(
            f"{what} was trained with feature_order_hash {model.feature_order_hash[:12]}… but the current feature "
            f"contract has {expected[:12]}…; retrain on the current gold dataset before serving it")


def cache_folder(info: ModelVersionInfo) -> Path:
    """Where a version's artefacts are kept once downloaded: a registered version's source never changes,
    so (name, version, run, source) names the bytes; aliases are still resolved at every call."""
    from rexai_assets.hashing import sha256_bytes
    from rexai_assets.paths import layout

    key = sha256_bytes(f"{info.name}\0{info.version}\0{info.run_id}\0{info.source}".encode())[:16]
    return layout().models / "cache" / f"{info.name}-v{info.version}-{key}"


def load_cached(info: ModelVersionInfo) -> TrainedEnsemble | None:
    """The version's artefacts from the local cache (no MLflow), or None when absent or of another hash."""
    cached = cache_folder(info)
    if not (cached / "ensemble.json").exists():
        return None
    model = TrainedEnsemble.load(cached)
    return model if model.model_hash == info.tags.get("model_hash", model.model_hash) else None


def _download(tracking_uri: str, info: ModelVersionInfo) -> TrainedEnsemble:
    model = load_cached(info)
    if model is not None:
        return model
    import os

    import mlflow

    cached = cache_folder(info)
    # The per-file progress bar would land in `rexai predict` output; a user's explicit setting wins.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rexai-load-", dir=cached.parent) as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=info.source, dst_path=tmp,
                                                         tracking_uri=tracking_uri))
        model = TrainedEnsemble.load(local)
        if not cached.exists():
            try:
                os.replace(local, cached)  # atomic: a reader sees the whole folder or none
            except OSError:
                pass  # another process published it first
        return model


def load_model_version(mlflow_resource_or_uri: Any, version: str | int, expected_feature_order_hash: str | None = None,
                       name: str | None = None) -> tuple[TrainedEnsemble, ModelVersionInfo]:
    """Download and load one registered version (never trains), verifying its feature order."""
    client, default_name = registry_client(mlflow_resource_or_uri)
    name = name or default_name
    info = version_info(client, name, version)
    return load_version(info, client.tracking_uri, expected_feature_order_hash), info


def load_version(info: ModelVersionInfo, tracking_uri: str, expected_feature_order_hash: str | None = None) -> TrainedEnsemble:
    """The version's ensemble (local cache first, else downloaded), verifying its feature order."""
    model = _download(tracking_uri, info)
    verify_feature_order(model, expected_feature_order_hash, what=f"{info.name} version {info.version}")
    return model


def registry_uri(mlflow_resource_or_uri: Any) -> str:
    """The registry URI of an `MlflowTracking` resource or a tracking URI."""
    if isinstance(mlflow_resource_or_uri, str):
        return mlflow_resource_or_uri
    return getattr(mlflow_resource_or_uri, "registry_uri", None) or mlflow_resource_or_uri.tracking_uri


def resolve_alias(mlflow_resource_or_uri: Any, alias: str = CHAMPION, name: str | None = None) -> ModelVersionInfo | None:
    """The version `alias` points at now (None: nowhere), from the alias pointer while the registry is unchanged,
    else asked of MLflow (models/alias_pointer.py says why and when)."""
    from rexai_assets.models.alias_pointer import read_pointer, registry_stamp, write_pointer
    from rexai_assets.paths import layout

    uri = registry_uri(mlflow_resource_or_uri)
    name = name or getattr(mlflow_resource_or_uri, "registered_model_name", None) or REGISTERED_MODEL
    folder = layout().models / "cache"
    found, fields = read_pointer(folder, uri, name, alias)
    if found:
        return None if fields is None else ModelVersionInfo(**{**fields, "aliases": tuple(fields.get("aliases") or ())})
    stamp = registry_stamp(uri)
    client, _ = registry_client(mlflow_resource_or_uri)
    version = get_alias_version(client, alias, name)
    info = None if version is None else version_info(client, name, version)
    write_pointer(folder, uri, name, alias, info, stamp)
    return info


def load_model_by_alias(mlflow_resource_or_uri: Any, alias: str = CHAMPION,
                        expected_feature_order_hash: str | None = None,
                        name: str | None = None) -> tuple[TrainedEnsemble, ModelVersionInfo] | None:
    """(model, version info) for the version `alias` points at, or None when there is no such alias."""
    info = resolve_alias(mlflow_resource_or_uri, alias, name)
    if info is None:
        return None
    tracking = mlflow_resource_or_uri if isinstance(mlflow_resource_or_uri, str) else mlflow_resource_or_uri.tracking_uri
    return load_version(info, tracking, expected_feature_order_hash), info
