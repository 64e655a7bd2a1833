"""The `gold` layer: feature contract, candidate pool, bootstrap simulator, heuristic baseline,
measured labels, leak-free splits, lineage and data quality.

Plain functions live in the submodules (contract, features, candidates, simulator, heuristic,
splits, dataset, lineage, quality); `assets` holds the Dagster definitions exported here.
"""

from rexai_assets.gold.assets import ASSETS, CHECKS
from rexai_assets.gold.contract import TARGETS

__all__ = ["ASSETS", "CHECKS", "TARGETS"]
