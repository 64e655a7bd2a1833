"""The Rex-AI code location: every layer's `defs` merged, with per-environment resources.

Importing this module does no I/O and imports neither mlflow, torch, scikit-learn, pandera nor
great_expectations (each layer imports them inside its asset bodies).
"""

from __future__ import annotations

import dagster as dg

from rexai_assets.evaluation.defs import defs as evaluation_defs
from rexai_assets.gold.defs import defs as gold_defs
from rexai_assets.loop.defs import defs as loop_defs
from rexai_assets.models.defs import defs as models_defs
from rexai_assets.observations.defs import defs as observations_defs
from rexai_assets.raw.defs import defs as raw_defs
from rexai_assets.resources import build_resources
from rexai_assets.serving.defs import defs as serving_defs

# Left to right, as the layers read from each other.
LAYER_DEFS = (raw_defs, observations_defs, gold_defs, models_defs, evaluation_defs, serving_defs, loop_defs)


def build_definitions(env: str | None = None) -> dg.Definitions:
    """Definitions with resources for `REXAI_ENV` (or `env`), read from the environment at call time."""
    return dg.Definitions.merge(*LAYER_DEFS, dg.Definitions(resources=build_resources(env)))


defs = build_definitions()
