"""The `gold` layer: feature contract, candidate pool, bootstrap simulator, heuristic baseline,
measured labels, leak-free splits, lineage and data quality.

Plain functions live in the submodules (contract, features, candidates, simulator, heuristic,
splits, dataset, lineage, quality); `assets` holds the Dagster definitions, loaded lazily so that
the CLI's light paths (e.g. `gold.contract`) do not import Dagster.
"""

from typing import Any

__all__ = ["ASSETS", "CHECKS", "TARGETS"]


def __getattr__(name: str) -> Any:
    if name in ("ASSETS", "CHECKS"):
        from rexai_assets.gold import assets

        return getattr(assets, name)
    if name == "TARGETS":
        from rexai_assets.gold.contract import TARGETS

        return TARGETS
    raise AttributeError(f"module 'rexai_assets.gold' has no attribute {name!r}")
