"""The Rex-AI code location: every asset, check, job, sensor and schedule, with per-environment resources.

Importing this module does no I/O and imports neither mlflow, torch nor great_expectations.
"""

from __future__ import annotations

import dagster as dg

from rexai_assets import evaluation, gold, jobs, loop, models, observations, raw, serving
from rexai_assets.resources import build_resources

LAYERS = (raw, observations, gold, models, evaluation, serving, loop, jobs)


def build_definitions(env: str | None = None) -> dg.Definitions:
    """Definitions with resources for `REXAI_ENV` (or `env`), read from the environment at call time."""
    return dg.Definitions(
        assets=[a for layer in LAYERS for a in getattr(layer, "ASSETS", [])],
        asset_checks=[c for layer in LAYERS for c in getattr(layer, "CHECKS", [])],
        jobs=[j for layer in LAYERS for j in getattr(layer, "JOBS", [])],
        sensors=[s for layer in LAYERS for s in getattr(layer, "SENSORS", [])],
        schedules=[s for layer in LAYERS for s in getattr(layer, "SCHEDULES", [])],
        resources=build_resources(env),
    )


defs = build_definitions()
