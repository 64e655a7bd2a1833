"""The jobs the loop launches: ingestion per inbox partition, and the retrain chain."""

import os

import dagster as dg

from rexai_assets.observations.assets import experiment_partitions, feedback_partitions
from rexai_assets.resources import WAREHOUSE_TAG

EXPERIMENTS_JOB, FEEDBACK_JOB, RETRAIN_JOB = "experiments_job", "feedback_job", "retrain_job"
CHAMPION_BUNDLE_JOB = "champion_bundle_job"
RETRAIN_TAG = "rexai/retrain"

experiments_job = dg.define_asset_job(
    EXPERIMENTS_JOB, selection=dg.AssetSelection.assets("experiment_runs"), partitions_def=experiment_partitions,
    description="Ingest one day of experiment files from the inbox.")

feedback_job = dg.define_asset_job(
    FEEDBACK_JOB, selection=dg.AssetSelection.assets("crew_feedback"), partitions_def=feedback_partitions,
    description="Ingest one crew feedback file from the inbox.")

# Everything unpartitioned downstream of the observations: gold -> models -> evaluation and
# promotion -> bundle. Recommendations (one partition per preset) follow by declarative automation.
# Habitat adapters (one partition per habitat) follow by their own sensor, within their cost limits.
RETRAIN_SELECTION = (dg.AssetSelection.groups("gold", "models", "evaluation", "serving")
                     - dg.AssetSelection.assets("recipe_recommendations", "feature_ablations", "learning_benchmark",
                                                "habitat_adapters"))

retrain_job = dg.define_asset_job(
    RETRAIN_JOB, selection=RETRAIN_SELECTION, tags={RETRAIN_TAG: "true"},
    description="Gold dataset, training, evaluation, promotion proposal (applied per policy) and sealed bundle.")


REEVALUATE_JOB = "reevaluate_job"
# The challenger waiting for requested tests is judged again on a gold dataset that now holds their results.
reevaluate_job = dg.define_asset_job(
    REEVALUATE_JOB, selection=dg.AssetSelection.assets("gold_dataset", "model_evaluation", "promotion_proposal"),
    description="Re-evaluate the challenger once the experiments a reviewer requested are measured.")

# A champion moved outside a retrain (approve, rollback, the review job): seal its bundle. The
# recommendations follow by declarative automation, as after every sealed bundle.
champion_bundle_job = dg.define_asset_job(
    CHAMPION_BUNDLE_JOB, selection=dg.AssetSelection.assets("model_bundle"),
    description="Seal the bundle of the current champion (requested by champion_bundle_sensor when the alias moved).")


# Imported once by the forkserver of a retrain, so each step's process forks with them loaded instead of
# importing them again (4-5 s per step on this machine, more than most steps take).
PRELOAD_MODULES = ["dagster._core.executor.multiprocess", "rexai_assets.definitions", "pandas", "sklearn.ensemble",
                   "torch", "great_expectations", "mlflow", "duckdb", "matplotlib.pyplot"]


def launched_run_config(job_name: str | None = None) -> dict:
    """Run config of the runs the loop launches; in prod the deployment's executor (one pod per step) decides.

    On one machine a retrain (~17 steps: gold checks, four members, evaluation) runs its independent steps
    two at a time, in processes forked from a server that preloaded the libraries; the steps that open the
    DuckDB warehouse run one at a time (one writer). The other runs have one or two steps: one process."""
    if os.environ.get("REXAI_ENV", "local").lower() == "prod":
        return {}
    if job_name != RETRAIN_JOB:
        return {"execution": {"config": {"in_process": {}}}}
    return {"execution": {"config": {"multiprocess": {
        "max_concurrent": max(2, min(os.cpu_count() or 2, 4)),
        "start_method": {"forkserver": {"preload_modules": PRELOAD_MODULES}},
        "tag_concurrency_limits": [{"key": WAREHOUSE_TAG, "limit": 1}]}}}}
