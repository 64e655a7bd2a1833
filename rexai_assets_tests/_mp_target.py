"""Reconstructable job targets for the multiprocess-executor test.

Each step process rebuilds the definitions from the environment it inherited (REXAI_DATA_ROOT,
REXAI_CONFIG_DIR, DAGSTER_HOME), so nothing reaches a step except through storage.
"""

from __future__ import annotations

import dagster as dg

from rexai_assets.definitions import build_definitions

MODULE = __name__


def build_job(name: str) -> dg.JobDefinition:
    """The named job of `build_definitions()`, built at call time (in the parent and in every step process)."""
    return build_definitions().resolve_job_def(name)


def unpartitioned_asset_jobs(defs: dg.Definitions) -> list[str]:
    """Asset jobs without partitions, upstream first (by the earliest of their assets in the graph)."""
    order = {key: i for i, key in enumerate(defs.resolve_asset_graph().toposorted_asset_keys)}
    jobs = []
    for job in defs.resolve_all_job_defs():
        if job.name.startswith("__") or job.partitions_def is not None:
            continue
        keys = job.asset_layer.selected_asset_keys if job.asset_layer else set()
        if keys:
            jobs.append((min(order[k] for k in keys), job.name))
    return [name for _, name in sorted(jobs)]


def reconstructable(name: str) -> dg.ReconstructableJob:
    from rexai_assets.settings import REPO_ROOT

    return dg.build_reconstructable_job(MODULE, "build_job", reconstructable_args=(name,),
                                        reconstructor_working_directory=str(REPO_ROOT))
