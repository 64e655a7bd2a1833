"""The `planning` layer's definitions: the experiment plan and the job that makes one on demand."""

import dagster as dg

from rexai_assets.planning.assets import experiment_plan

plan_job = dg.define_asset_job("plan_job", selection=dg.AssetSelection.assets(experiment_plan),
                               description="Plan the lab's next experiments with the current champion.")

defs = dg.Definitions(assets=[experiment_plan], jobs=[plan_job])
