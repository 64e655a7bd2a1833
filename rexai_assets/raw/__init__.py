"""The `raw` layer: shipped reference tables, typed and validated.

`load_raw_tables` / `RawTables` are re-exported lazily so that importing the asset definitions
does not import pandera.
"""

from typing import Any

from rexai_assets.raw.assets import RAW_ASSETS, RAW_SOURCES
from rexai_assets.raw.checks import RAW_CHECKS
from rexai_assets.raw.sensors import RAW_JOBS, RAW_SENSORS

ASSETS = [*RAW_SOURCES, *RAW_ASSETS]
CHECKS = RAW_CHECKS
JOBS = RAW_JOBS
SENSORS = RAW_SENSORS


def __getattr__(name: str) -> Any:
    if name in ("load_raw_tables", "RawTables", "RawFileError"):
        from rexai_assets.raw import tables

        return getattr(tables, name)
    raise AttributeError(name)
