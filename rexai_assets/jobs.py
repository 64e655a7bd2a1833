"""Asset jobs that span layers (each layer's own jobs live in its module)."""

import dagster as dg

raw_job = dg.define_asset_job(
    "raw_job", selection=dg.AssetSelection.groups("raw").materializable(),
    description="Observe the shipped raw files and rebuild the validated raw tables.")

JOBS = [raw_job]
