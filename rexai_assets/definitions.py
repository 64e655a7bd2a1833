"""The Rex-AI code location: every layer's `defs` merged, with per-environment resources.

Importing this module does no I/O and imports neither mlflow, torch, scikit-learn, matplotlib,
pandera nor great_expectations (each layer imports them inside its asset bodies).
"""

from __future__ import annotations

import dagster as dg

from rexai_assets.evaluation import defs as evaluation
from rexai_assets.gold import defs as gold
from rexai_assets.habitats import defs as habitats
from rexai_assets.loop import defs as loop
from rexai_assets.models import defs as models
from rexai_assets.observations import defs as observations
from rexai_assets.planning import defs as planning
from rexai_assets.raw import defs as raw
from rexai_assets.resources import build_resources
from rexai_assets.serving import defs as serving

# The layers' defs modules, left to right as they read from each other. Modules, not their `defs`:
# Dagster's loader accepts one Definitions object at this module's scope (`defs` below). `planning` reads
# the champion from the registry and the candidate sampler (gold), and the second vote (evaluation)
# writes plans, so it sits between models and evaluation; its asset follows promotion proposals by key.
# `habitats` adapts the champion that evaluation promoted, and serving applies its adapters.
LAYERS = (raw, observations, gold, models, planning, evaluation, habitats, serving, loop)


def build_definitions(env: str | None = None) -> dg.Definitions:
    """Definitions with resources for `REXAI_ENV` (or `env`), read from the environment at call time."""
    return dg.Definitions.merge(*(layer.defs for layer in LAYERS), dg.Definitions(resources=build_resources(env)))


defs = build_definitions()
