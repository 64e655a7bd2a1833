"""The closed loop: an inbox sensor that ingests new files, and the retrain triggers.

Both sensors start RUNNING, so `make dev` runs the loop with no clicks. The inbox sensor's cursor
(file name -> sha256) survives restarts, and its run keys make a file's content processed once.
The retrain trigger needs no cursor: it counts warehouse rows ingested after the last `gold_dataset`
materialisation, and the cooldown comes from the last retrain run in the instance.
"""

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import dagster as dg

from rexai_assets.hashing import sha256_json
from rexai_assets.partitions import unknown_partition_keys
from rexai_assets.loop.jobs import (CHAMPION_BUNDLE_JOB, EXPERIMENTS_JOB, FEEDBACK_JOB, INGEST_AND_RETRAIN_JOB,
                                    REEVALUATE_JOB, RETRAIN_JOB, RETRAIN_TAG, champion_bundle_job, experiments_job,
                                    feedback_job, ingest_and_retrain_job, launched_run_config, reevaluate_job,
                                    retrain_job)
from rexai_assets.resources import MlflowTracking, RexaiStorage, Warehouse
from rexai_assets.warehouse import table_exists

if TYPE_CHECKING:
    from rexai_assets.loop.policy import RetrainDecision

# The sensor daemon evaluates sensors in a loop that starts at most every 5 s; a sensor whose last tick
# began a moment less than its minimum interval ago is skipped. With 5 s here every other loop was
# skipped (10 s between ticks); 4 s lets each loop evaluate these two cheap sensors.
INBOX_INTERVAL_S = 4
INBOX_KEY_TAG = "rexai/inbox_key"  # the content a run ingested: `rexai run` skips content already ingested
RETRAIN_INTERVAL_S = 4
ACTIVE_STATUSES = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
                   dg.DagsterRunStatus.STARTED]


def inbox_run_requests(scan, known: dict[str, str],
                       retrain_with: Callable[[int], "RetrainDecision | None"] | None = None) -> list[dg.RunRequest]:
    """One run per experiment day with new or changed files, one per new feedback file.

    `retrain_with(labelled rows landing)` is the retrain decision (loop/policy.py) counting those rows as
    already ingested. When one day is new and the decision says retrain, its run also retrains
    (ingest_and_retrain_job). With several days new, each is ingested on its own and the retrain trigger
    follows once all are in, so no retrain starts while some of the rows that landed together are still out."""
    requests = []
    days = scan.new_experiment_days(known)
    for day in days:
        files = scan.experiment_days[day]
        content = sha256_json(sorted((f.name, f.sha256) for f in files))
        key = f"experiments:{day}:{content}"
        job, tags = EXPERIMENTS_JOB, {"rexai/trigger": "inbox", "rexai/files": str(len(files)), INBOX_KEY_TAG: key}
        decision = retrain_with(sum(f.labelled for f in files)) if retrain_with and len(days) == 1 else None
        if decision is not None and decision.retrain:
            job, tags = INGEST_AND_RETRAIN_JOB, {**tags, **decision.tags, RETRAIN_TAG: "true",
                                                 "rexai/reason": decision.reason}
        requests.append(dg.RunRequest(job_name=job, partition_key=day, run_key=key, run_config=launched_run_config(),
                                      tags=tags))
    by_key = {f.partition_key: f for f in scan.feedback_files}
    for key in scan.new_feedback_keys(known):
        run_key = f"feedback:{key}:{by_key[key].sha256}"
        requests.append(dg.RunRequest(job_name=FEEDBACK_JOB, partition_key=key, run_key=run_key,
                                      run_config=launched_run_config(),
                                      tags={"rexai/trigger": "inbox", "rexai/files": "1", INBOX_KEY_TAG: run_key}))
    return requests


@dg.sensor(jobs=[experiments_job, feedback_job, ingest_and_retrain_job], minimum_interval_seconds=INBOX_INTERVAL_S,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Registers new experiment and feedback files and requests their ingestion runs (with the "
                       "retrain, when the lab results landing are enough for one).")
def inbox_sensor(context: dg.SensorEvaluationContext, storage: RexaiStorage, warehouse: Warehouse):
    from rexai_assets.observations.assets import feedback_partitions
    from rexai_assets.observations.inbox import scan_inbox

    scan = scan_inbox(storage.layout)  # quarantines unreadable files; never raises for one
    known = json.loads(context.cursor) if context.cursor else {}
    requests = inbox_run_requests(scan, known, lambda landing: landing_retrain_decision(context.instance, warehouse,
                                                                                      landing))
    quarantined = f"; quarantined {len(scan.quarantined)} unreadable file(s)" if scan.quarantined else ""
    if not requests:
        return dg.SkipReason(f"no new inbox files{quarantined}")
    new_keys = unknown_partition_keys(context.instance, feedback_partitions, scan.feedback_keys)
    context.log.info(f"{len(requests)} ingestion run(s){quarantined}")
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(scan.cursor(), sort_keys=True),
                           dynamic_partitions_requests=[feedback_partitions.build_add_request(new_keys)] if new_keys else [])


def new_labelled_rows(warehouse: Warehouse, since: datetime | None) -> int:
    """Labelled observation rows ingested after `since` (all of them when there was no training yet)."""
    with warehouse.connect() as con:
        if not table_exists(con, "observations", "measurements"):
            return 0
        if since is None:
            return int(con.execute("SELECT count(*) FROM observations.measurements").fetchone()[0])
        return int(con.execute("SELECT count(*) FROM observations.measurements WHERE ingested_at > ?",
                               [since.replace(tzinfo=None)]).fetchone()[0])


def last_training_time(instance: dg.DagsterInstance) -> datetime | None:
    event = instance.get_latest_materialization_event(dg.AssetKey("gold_dataset"))
    return datetime.fromtimestamp(event.timestamp, timezone.utc) if event else None


def last_retrain(instance: dg.DagsterInstance) -> tuple[datetime | None, bool]:
    """When the last retrain run was created, and whether one is queued or running now."""
    records = instance.get_run_records(dg.RunsFilter(tags={RETRAIN_TAG: "true"}), limit=1)
    active = instance.get_runs_count(dg.RunsFilter(tags={RETRAIN_TAG: "true"}, statuses=ACTIVE_STATUSES)) > 0
    if not records:
        return None, active
    return records[0].create_timestamp.astimezone(timezone.utc), active


def retrain_decision(instance: dg.DagsterInstance, warehouse: Warehouse, champion_trained_at: datetime | None,
                     check_age: bool, now: datetime | None = None, landing_rows: int = 0) -> "RetrainDecision | None":
    """The policy's decision on the rows ingested since the last training plus `landing_rows` about to be;
    None while a retrain is queued or running (it will train on them)."""
    from rexai_assets.loop.policy import decide_retrain, retraining_settings

    now = now or datetime.now(timezone.utc)
    previous, active = last_retrain(instance)
    if active:
        return None
    new_rows = new_labelled_rows(warehouse, last_training_time(instance)) + landing_rows
    return decide_retrain(now, new_rows, previous, champion_trained_at, retraining_settings(), check_age=check_age)


def landing_retrain_decision(instance: dg.DagsterInstance, warehouse: Warehouse,
                             landing_rows: int) -> "RetrainDecision | None":
    """Whether the rows landing make a retrain due; None while other ingestion runs are queued or running
    (their rows are not counted yet: the retrain trigger decides once they are in)."""
    if instance.get_runs_count(dg.RunsFilter(job_name=EXPERIMENTS_JOB, statuses=ACTIVE_STATUSES)) > 0:
        return None
    return retrain_decision(instance, warehouse, champion_trained_at=None, check_age=False, landing_rows=landing_rows)


def retrain_request(instance: dg.DagsterInstance, warehouse: Warehouse, champion_trained_at: datetime | None,
                    check_age: bool, now: datetime | None = None) -> dg.RunRequest | dg.SkipReason:
    now = now or datetime.now(timezone.utc)
    decision = retrain_decision(instance, warehouse, champion_trained_at, check_age, now)
    if decision is None:
        return dg.SkipReason("a retrain run is already queued or running")
    if not decision.retrain:
        return dg.SkipReason(decision.reason)
    return dg.RunRequest(run_key=f"retrain:{decision.trigger}:{now.isoformat()}", job_name=RETRAIN_JOB,
                         run_config=launched_run_config(),
                         tags={**decision.tags, RETRAIN_TAG: "true", "rexai/reason": decision.reason})


@dg.sensor(job=retrain_job, minimum_interval_seconds=RETRAIN_INTERVAL_S, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Requests a retrain once enough new labelled rows arrived (config/retraining.yaml).")
def retrain_trigger_sensor(context: dg.SensorEvaluationContext, warehouse: Warehouse):
    return retrain_request(context.instance, warehouse, champion_trained_at=None, check_age=False)


def champion_trained_at(mlflow: MlflowTracking) -> datetime | None:
    from rexai_assets.evaluation.promotion import ChampionRegistry, promotion_settings

    registry = ChampionRegistry(mlflow.client(), promotion_settings())
    version = registry.champion()
    if version is None:
        return None
    created = registry.client.get_model_version(registry.cfg.registered_model, version).creation_timestamp
    return datetime.fromtimestamp(created / 1000, timezone.utc)


@dg.schedule(cron_schedule="0 * * * *", job_name=RETRAIN_JOB, default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Hourly: retrain when the champion is older than max_age_hours (or missing).")
def champion_age_schedule(context: dg.ScheduleEvaluationContext, warehouse: Warehouse, mlflow: MlflowTracking):
    return retrain_request(context.instance, warehouse, champion_trained_at(mlflow), check_age=True,
                           now=context.scheduled_execution_time)


@dg.run_failure_sensor(monitored_jobs=[retrain_job, ingest_and_retrain_job], default_status=dg.DefaultSensorStatus.RUNNING,
                       description="A retrain stopped by a failed blocking check records a REJECT proposal for its challenger.")
def retrain_failure_sensor(context: dg.RunFailureSensorContext, storage: RexaiStorage, warehouse: Warehouse,
                           mlflow: MlflowTracking):
    from rexai_assets.evaluation.evaluate import reject_failed_retrain

    run = context.dagster_run
    proposal = reject_failed_retrain(context.instance, run.run_id, storage, warehouse, mlflow,
                                     trigger=run.tags.get("rexai/trigger"))
    if proposal is not None:
        context.log.info(f"{proposal.proposal_id}: REJECT v{proposal.challenger_version} (failed checks)")


def reevaluation_requests(desk, share: float) -> list[dg.RunRequest]:
    """One re-evaluation per proposal whose requested tests arrived, while its challenger is still the challenger
    (a newer retrain makes its own proposal); the run key makes it once per proposal."""
    challenger = desk.registry.version_of(desk.registry.cfg.challenger_alias)
    return [dg.RunRequest(run_key=f"reevaluate:{p.proposal_id}", job_name=REEVALUATE_JOB, run_config=launched_run_config(),
                          tags={"rexai/trigger": "requested_tests", "rexai/proposal": p.proposal_id})
            for p in desk.tests_arrived(share) if p.challenger_version == challenger]


@dg.sensor(job=reevaluate_job, minimum_interval_seconds=RETRAIN_INTERVAL_S, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Re-evaluates a challenger once the experiments its reviewer requested are measured.")
def requested_tests_sensor(context: dg.SensorEvaluationContext, storage: RexaiStorage, warehouse: Warehouse,
                           mlflow: MlflowTracking):
    from rexai_assets.evaluation.promotion import build_desk
    from rexai_assets.planning.config import planning_settings

    requests = reevaluation_requests(build_desk(storage, warehouse, mlflow),
                                     planning_settings().request_tests.min_measured_share)
    return requests or dg.SkipReason("no requested tests complete")


MODEL_BUNDLE = dg.AssetKey("model_bundle")
CHAMPION_INTERVAL_S = 10


def sealed_version(instance: dg.DagsterInstance) -> tuple[str | None, float]:
    """The model version of the last `model_bundle` materialisation (None if nothing was sealed), and its time."""
    event = instance.get_latest_materialization_event(MODEL_BUNDLE)
    if event is None:
        return None, 0.0
    version = event.asset_materialization.metadata.get("model_version")
    return (str(version.value) if version is not None else None), event.timestamp


def champion_bundle_request(instance: dg.DagsterInstance, mlflow: MlflowTracking) -> dg.RunRequest | dg.SkipReason:
    """A run that seals the bundle when the version it must hold (the champion, or the version pinned in
    config/bundle.yaml) is not the last one sealed; a retrain seals its own promotion, so none then."""
    from rexai_assets.serving.bundle import bundle_settings, resolve_version

    wanted = resolve_version(mlflow, bundle_settings())
    if wanted is None:
        return dg.SkipReason("no champion and no pinned version: nothing to seal")
    sealed, sealed_at = sealed_version(instance)
    if sealed == wanted:
        return dg.SkipReason(f"the sealed bundle holds v{wanted}, the version to serve")
    for job in (RETRAIN_JOB, INGEST_AND_RETRAIN_JOB, CHAMPION_BUNDLE_JOB):
        if instance.get_runs_count(dg.RunsFilter(job_name=job, statuses=ACTIVE_STATUSES)) > 0:
            return dg.SkipReason(f"a {job} run is queued or running; it seals the bundle")
    return dg.RunRequest(run_key=f"champion:v{wanted}:after:{sealed_at}", job_name=CHAMPION_BUNDLE_JOB,
                         run_config=launched_run_config(),
                         tags={"rexai/trigger": "champion_changed", "rexai/champion": wanted,
                               "rexai/sealed_before": sealed or "none"})


@dg.sensor(job=champion_bundle_job, minimum_interval_seconds=CHAMPION_INTERVAL_S,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Re-seals the bundle when the champion alias moved (approve, rollback, auto-promotion); "
                       "the recommendations follow.")
def champion_bundle_sensor(context: dg.SensorEvaluationContext, mlflow: MlflowTracking):
    return champion_bundle_request(context.instance, mlflow)


# Declarative automation (recommendations refresh when a new bundle is sealed) needs a running sensor.
automation_sensor = dg.AutomationConditionSensorDefinition(
    "rexai_automation", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING,
    description="Evaluates the assets' automation conditions (e.g. recommendations after a new bundle).")
