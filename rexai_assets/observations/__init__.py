"""The `observations` layer: experiment registry (daily partitions) and crew feedback (per file).

Exports ASSETS, CHECKS, `experiment_partitions`, `feedback_partitions` for the definitions, and
`scan_inbox`, `find_pii` for the sensor and the gold layer. They are resolved lazily so that the
CLI's validators (records, pii, inbox) load without importing Dagster.
"""

from typing import Any

_FROM_ASSETS = {"ASSETS": "OBSERVATION_ASSETS", "CHECKS": "OBSERVATION_CHECKS",
                "experiment_partitions": "experiment_partitions", "feedback_partitions": "feedback_partitions",
                "register_feedback_partitions": "register_feedback_partitions"}
_ELSEWHERE = {"scan_inbox": "inbox", "InboxScan": "inbox", "find_pii": "pii"}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _FROM_ASSETS:
        return getattr(importlib.import_module("rexai_assets.observations.assets"), _FROM_ASSETS[name])
    if name in _ELSEWHERE:
        return getattr(importlib.import_module(f"rexai_assets.observations.{_ELSEWHERE[name]}"), name)
    raise AttributeError(f"module 'rexai_assets.observations' has no attribute {name!r}")
