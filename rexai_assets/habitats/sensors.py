"""`habitat_adapter_sensor`: keeps one partition per habitat and asks for adapter retrains within the cost limits.

The decision is habitats/policy.py's; this module only gathers its inputs (new trusted rows per habitat from
the warehouse, the habitat's adapter runs from the instance, the champion from the registry).
"""


from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dagster as dg

from rexai_assets.habitats.assets import HABITAT_JOB, habitat_adapter_job, habitat_partitions
from rexai_assets.partitions import unknown_partition_keys
from rexai_assets.resources import MlflowTracking, RexaiStorage, Warehouse
from rexai_assets.warehouse import table_exists

HABITAT_INTERVAL_S = 30


def new_trusted_rows(con: Any, habitat: str, trusted: tuple[str, ...], since: datetime | None) -> int:
    """Trusted measured rows of `habitat` ingested after `since` (all of them without a previous run)."""
    if not table_exists(con, "observations", "experiment_runs"):
        return 0
    query = ("SELECT count(*) FROM observations.measurements m JOIN observations.experiment_runs e "
             "ON m.kind = 'experiment' AND e.experiment_id = m.observation_id "
             "WHERE e.habitat = ? AND list_contains(?, m.label_source)")
    params: list[Any] = [habitat, list(trusted)]
    if since is not None:
        query += " AND m.ingested_at > ?"
        params.append(since.astimezone(timezone.utc).replace(tzinfo=None))
    return int(con.execute(query, params).fetchone()[0])


def adapter_runs(instance: dg.DagsterInstance, habitat: str) -> list[datetime]:
    """When this habitat's adapter runs were created (newest first), from the sensor, `rexai run` or the UI."""
    records = instance.get_run_records(dg.RunsFilter(job_name=HABITAT_JOB, tags={"dagster/partition": habitat}),
                                       limit=100)
    return [r.create_timestamp.astimezone(timezone.utc) for r in records]


def habitat_request(instance: dg.DagsterInstance, con: Any, habitat: str, champion: str | None, models_dir: Path,
                    now: datetime) -> dg.RunRequest | str:
    """A run request for one habitat, or the policy's reason not to."""
    from rexai_assets.gold.contract import gold_settings
    from rexai_assets.habitats.policy import decide_adapter_retrain, habitat_retraining
    from rexai_assets.habitats.service import read_status

    if champion is None:
        return f"{habitat}: no shared champion yet"
    runs = adapter_runs(instance, habitat)
    base = (read_status(models_dir, habitat) or {}).get("base_model_version")
    new_rows = new_trusted_rows(con, habitat, tuple(gold_settings().labels.trusted_sources), max(runs, default=None))
    decision = decide_adapter_retrain(now, habitat, new_rows, base is not None and str(base) != str(champion),
                                      not runs, runs, habitat_retraining().limits(habitat))
    if not decision.retrain:
        return decision.reason
    return dg.RunRequest(run_key=f"habitat:{habitat}:{decision.trigger}:{now.isoformat()}", job_name=HABITAT_JOB,
                         partition_key=habitat,
                         tags={**decision.tags, "rexai/reason": decision.reason})


@dg.sensor(job=habitat_adapter_job, minimum_interval_seconds=HABITAT_INTERVAL_S,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="One habitat_adapters partition per habitat; requests adapter retrains within the "
                       "limits of config/retraining.yaml.")
def habitat_adapter_sensor(context: dg.SensorEvaluationContext, storage: RexaiStorage, warehouse: Warehouse,
                           mlflow: MlflowTracking):
    from rexai_assets.evaluation.promotion import ChampionRegistry, promotion_settings
    from rexai_assets.habitat_config import known_habitats

    habitats = known_habitats()
    added = unknown_partition_keys(context.instance, habitat_partitions, habitats)
    champion = ChampionRegistry(mlflow.client(), promotion_settings()).champion()
    now = datetime.now(timezone.utc)
    with warehouse.connect() as con:
        answers = [habitat_request(context.instance, con, h, champion, storage.layout.models, now) for h in habitats]
    requests = [a for a in answers if isinstance(a, dg.RunRequest)]
    partitions = [habitat_partitions.build_add_request(added)] if added else []
    if not requests and not partitions:
        return dg.SkipReason("; ".join(a for a in answers if isinstance(a, str)) or "no habitats configured")
    return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=partitions)
