"""The `serving` layer: sealed model bundles and recipe recommendations per target preset, plus the
benchmark assets of the `evaluation` group (heuristic vs champion vs challenger, feature ablations).

Importing this package does no I/O and imports neither mlflow, torch nor matplotlib.
"""

from rexai_assets.serving.assets import (PRESET_PARTITIONS, SERVING_ASSETS, SERVING_CHECKS, SERVING_JOBS,
                                         ablation_job, preset_partition_changes, preset_names, preset_partitions,
                                         recommendations_job, sync_preset_partitions)

ASSETS = SERVING_ASSETS
CHECKS = SERVING_CHECKS
JOBS = SERVING_JOBS

__all__ = ["ASSETS", "CHECKS", "JOBS", "PRESET_PARTITIONS", "ablation_job", "preset_partition_changes",
           "preset_names", "preset_partitions", "recommendations_job", "sync_preset_partitions"]
