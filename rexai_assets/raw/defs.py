"""The `raw` layer's definitions: one observable source per shipped file, the tables, their checks,
the raw jobs and the file sensor."""

import dagster as dg

from rexai_assets.raw.assets import RAW_ASSETS, RAW_SOURCES
from rexai_assets.raw.checks import RAW_CHECKS
from rexai_assets.raw.sensors import observe_raw_files, raw_files_sensor, raw_job

defs = dg.Definitions(assets=[*RAW_SOURCES, *RAW_ASSETS], asset_checks=RAW_CHECKS,
                      jobs=[observe_raw_files, raw_job], sensors=[raw_files_sensor])
