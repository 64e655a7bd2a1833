"""The jobs the loop launches: ingestion per inbox partition, and the retrain chain."""

import os

import dagster as dg

from rexai_assets.observations.assets import experiment_partitions, feedback_partitions

EXPERIMENTS_JOB, FEEDBACK_JOB, RETRAIN_JOB = "experiments_job", "feedback_job", "retrain_job"
INGEST_AND_RETRAIN_JOB = "ingest_and_retrain_job"
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

# When the lab results landing are enough for a retrain by themselves, one run ingests and retrains: the
# retrain does not wait for a second run to be requested and started (about 10 s of the loop's latency).
# A blocking check that fails on the ingested rows stops the run before gold, as between two runs.
ingest_and_retrain_job = dg.define_asset_job(
    INGEST_AND_RETRAIN_JOB, selection=dg.AssetSelection.assets("experiment_runs") | RETRAIN_SELECTION,
    partitions_def=experiment_partitions, tags={RETRAIN_TAG: "true"},
    description="Ingest one day of lab results that is enough for a retrain, then retrain as retrain_job does.")


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


def launched_run_config() -> dict:
    """Run config of the runs the loop launches; in prod the deployment's executor (one pod per step) decides.

    On one machine every run executes in one process. A retrain with its steps two at a time, in processes
    forked from a server that preloaded the libraries, was measured no faster than one process (79 s of
    steps against 78 s on an idle machine, 199 s against 166 s from lab results to champion on a shared
    one, `loop.bench`): concurrent members slowed each other down and the preloading delayed the first steps."""
    if os.environ.get("REXAI_ENV", "local").lower() == "prod":
        return {}
    return {"execution": {"config": {"in_process": {}}}}
