"""The `serving` layer: sealed model bundles and recipe recommendations per target preset, plus the
benchmark assets of the `evaluation` group (heuristic vs champion vs challenger, feature ablations).

Importing this package does no I/O and imports neither mlflow, torch nor matplotlib; the Dagster
definitions are loaded on first use, so `rexai recommend` / `rexai predict` do not pay for Dagster.
"""

from typing import Any

_FROM_ASSETS = {"ASSETS": "SERVING_ASSETS", "CHECKS": "SERVING_CHECKS", "JOBS": "SERVING_JOBS",
                "PRESET_PARTITIONS": "PRESET_PARTITIONS", "ablation_job": "ablation_job",
                "preset_partition_changes": "preset_partition_changes", "preset_names": "preset_names",
                "preset_partitions": "preset_partitions", "recommendations_job": "recommendations_job",
                "sync_preset_partitions": "sync_preset_partitions"}

__all__ = sorted(_FROM_ASSETS)


def __getattr__(name: str) -> Any:
    if name in _FROM_ASSETS:
        from rexai_assets.serving import assets

        return getattr(assets, _FROM_ASSETS[name])
    raise AttributeError(f"module 'rexai_assets.serving' has no attribute {name!r}")
