"""The `observations` layer's definitions: the experiment registry, crew feedback and their checks."""

import dagster as dg

from rexai_assets.observations.assets import (crew_feedback, crew_feedback_pii_free, experiment_measurements_contract,
                                              experiment_runs, experiment_runs_pii_free,
                                              feedback_measurements_contract)

defs = dg.Definitions(
    assets=[experiment_runs, crew_feedback],
    asset_checks=[experiment_runs_pii_free, crew_feedback_pii_free, experiment_measurements_contract,
                  feedback_measurements_contract])
