"""The `raw` layer: shipped reference tables, typed and validated.

Everything is resolved on first use: the Dagster definitions (ASSETS, CHECKS, JOBS, SENSORS) need
Dagster, the table functions (`load_raw_tables`, `RawTables`, `RawFileError`) need pandera; the CLI's
light paths need neither.
"""

from typing import Any

_FROM = {"ASSETS": ("rexai_assets.raw.assets", "ALL_RAW_ASSETS"), "CHECKS": ("rexai_assets.raw.checks", "RAW_CHECKS"),
         "JOBS": ("rexai_assets.raw.sensors", "RAW_JOBS"), "SENSORS": ("rexai_assets.raw.sensors", "RAW_SENSORS"),
         "RAW_ASSETS": ("rexai_assets.raw.assets", "RAW_ASSETS"), "RAW_SOURCES": ("rexai_assets.raw.assets", "RAW_SOURCES"),
         "load_raw_tables": ("rexai_assets.raw.tables", "load_raw_tables"),
         "RawTables": ("rexai_assets.raw.tables", "RawTables"), "RawFileError": ("rexai_assets.raw.tables", "RawFileError")}


def __getattr__(name: str) -> Any:
    if name in _FROM:
        import importlib

        module, attribute = _FROM[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'rexai_assets.raw' has no attribute {name!r}")
