"""The loop's sensors and schedule on their own: quarantine without crashing, a cursor that remembers,
and the champion-age schedule."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg

from rexai_assets.definitions import build_definitions
from rexai_assets.paths import layout


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, name: str, cursor: str | None = None):
    with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=defs.resources) as context:
        return defs.get_sensor_def(name)(context)


def test_inbox_sensor_quarantines_unreadable_files_and_keeps_ticking():
    data = layout().ensure()
    defs, instance = build_definitions(), dg.DagsterInstance.ephemeral()
    (data.experiments_inbox / "experiments_20250602_broken.parquet").write_bytes(b"PAR1 truncated")
    (data.feedback_inbox / "feedback_garbage.parquet").write_text("not parquet at all")
    result = tick(defs, instance, "inbox_sensor")
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message == "no new inbox files; quarantined 2 unreadable file(s)"
    assert sorted(p.name for p in data.quarantine.rglob("*.parquet")) == [
        "experiments_20250602_broken.parquet", "feedback_garbage.parquet"]
    assert not list(data.inbox.rglob("*.parquet"))
    assert tick(defs, instance, "inbox_sensor").skip_message == "no new inbox files"


def test_inbox_sensor_cursor_processes_each_file_once():
    from rexai_assets.ops.sample_inbox import write_sample_inbox

    data = layout().ensure()
    defs, instance = build_definitions(), dg.DagsterInstance.ephemeral()
    write_sample_inbox(data, days=2, rows_per_day=3, feedback_rows=2)
    first = tick(defs, instance, "inbox_sensor")
    assert sorted((r.job_name, r.partition_key[:10]) for r in first.run_requests) == [
        ("experiments_job", "2025-06-02"), ("experiments_job", "2025-06-03"), ("feedback_job", "feedback_2")]
    assert [list(r.partition_keys) for r in first.dynamic_partitions_requests] == [
        [r.partition_key for r in first.run_requests if r.job_name == "feedback_job"]]
    assert all(r.tags["rexai/trigger"] == "inbox" for r in first.run_requests)
    assert all(r.run_config == {"execution": {"config": {"in_process": {}}}} for r in first.run_requests)
    again = tick(defs, instance, "inbox_sensor", cursor=first.cursor)
    assert isinstance(again, dg.SkipReason)


def test_lab_results_enough_for_a_retrain_are_ingested_and_retrained_in_one_run():
    from types import SimpleNamespace

    from rexai_assets.loop.policy import RetrainDecision
    from rexai_assets.loop.sensors import inbox_run_requests

    def scan(*days):
        files = {day: (SimpleNamespace(name=f"experiments_{day}.parquet", sha256=day, labelled=25),) for day in days}
        return SimpleNamespace(experiment_days=files, feedback_files=(), new_experiment_days=lambda known: list(days),
                               new_feedback_keys=lambda known: [])

    asked = []

    def decide(landing: int) -> RetrainDecision:
        asked.append(landing)
        return RetrainDecision(landing >= 20, "new_observations" if landing >= 20 else None, f"{landing} rows",
                               {"rexai/count_new_rows": str(landing)})

    (one,) = inbox_run_requests(scan("2026-11-30"), {}, decide)
    assert one.job_name == "ingest_and_retrain_job" and one.partition_key == "2026-11-30" and asked == [25]
    assert one.tags["rexai/retrain"] == "true" and one.tags["rexai/count_new_rows"] == "25"
    assert one.tags["rexai/inbox_key"] == one.run_key  # the content is still ingested once
    # Several days landing together: each ingested on its own, the retrain trigger follows once all are in.
    assert {r.job_name for r in inbox_run_requests(scan("2026-11-29", "2026-11-30"), {}, decide)} == {"experiments_job"}
    assert asked == [25]
    # Not enough (or a retrain already running: no decision): ingestion only.
    assert inbox_run_requests(scan("2026-11-30"), {}, lambda landing: decide(landing - 10))[0].job_name == "experiments_job"
    assert inbox_run_requests(scan("2026-11-30"), {}, lambda landing: None)[0].job_name == "experiments_job"


def test_champion_age_schedule_trains_when_there_is_no_champion():
    layout().ensure()
    defs, instance = build_definitions(), dg.DagsterInstance.get()  # schedules need a persistent instance
    schedule = defs.get_schedule_def("champion_age_schedule")
    moment = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=moment,
                                   resources=defs.resources) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.job_name == "retrain_job"
    assert request.tags["rexai/trigger"] == "no_champion" and request.tags["rexai/retrain"] == "true"


def test_loop_runs_execute_in_one_process_except_in_prod(monkeypatch):
    from rexai_assets.loop.jobs import launched_run_config

    assert launched_run_config() == {"execution": {"config": {"in_process": {}}}}
    monkeypatch.setenv("REXAI_ENV", "prod")
    assert launched_run_config() == {}


def test_loop_sensors_tick_on_every_daemon_loop_and_runs_leave_the_queue_quickly(tmp_path):
    """The loop's latency budget: the daemon's sensor loop starts at most every 5 s (Dagster's
    MIN_INTERVAL_LOOP_TIME), so a minimum interval not below it skips every other loop; the local
    instance dequeues runs every second instead of every 5 s, and keeps an existing dagster.yaml."""
    from dagster._daemon.sensor import MIN_INTERVAL_LOOP_TIME

    from rexai_assets.ops.devserver import write_instance_yaml

    defs = build_definitions()
    for name in ("inbox_sensor", "retrain_trigger_sensor"):
        assert defs.get_sensor_def(name).minimum_interval_seconds < MIN_INTERVAL_LOOP_TIME
    home = tmp_path / "home"
    write_instance_yaml(home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_coordinator.dequeue_interval_seconds == 1
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    write_instance_yaml(home)
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


class BusyInstance:
    """An instance where a run of `job` is queued: everything else as the real one."""

    def __init__(self, instance: dg.DagsterInstance, job: str):
        self.instance, self.job = instance, job

    def get_runs_count(self, filters: dg.RunsFilter) -> int:
        return 1 if filters.job_name == self.job else 0

    def __getattr__(self, name: str):
        return getattr(self.instance, name)


def test_champion_bundle_sensor_seals_what_must_serve_once(tmp_path):
    from rexai_assets.evaluation.promotion import desk_from_resources
    from rexai_assets.loop.sensors import champion_bundle_request

    defs, instance = build_definitions(), dg.DagsterInstance.ephemeral()
    mlflow = defs.resources["mlflow"]
    client = mlflow.client()
    client.create_registered_model("rexai")
    (tmp_path / "artefact").mkdir()
    for _ in range(2):
        client.create_model_version("rexai", source=str(tmp_path / "artefact"))
    assert tick(defs, instance, "champion_bundle_sensor").skip_message == (
        "no champion and no pinned version: nothing to seal")
    desk_from_resources(defs.resources).registry.set_champion("1", archive=None)
    first = tick(defs, instance, "champion_bundle_sensor")
    assert isinstance(first, dg.RunRequest) and first.job_name == "champion_bundle_job"
    assert first.tags["rexai/champion"] == "1" and first.tags["rexai/sealed_before"] == "none"
    assert tick(defs, instance, "champion_bundle_sensor").run_key == first.run_key  # Dagster runs a key once
    for job in ("retrain_job", "champion_bundle_job"):
        busy = champion_bundle_request(BusyInstance(instance, job), mlflow)
        assert isinstance(busy, dg.SkipReason) and busy.skip_message.startswith(f"a {job} run is queued or running")
    instance.report_runless_asset_event(dg.AssetMaterialization("model_bundle", metadata={"model_version": "1"}))
    assert tick(defs, instance, "champion_bundle_sensor").skip_message == (
        "the sealed bundle holds v1, the version to serve")
    desk_from_resources(defs.resources).registry.set_champion("2", archive="1")
    second = tick(defs, instance, "champion_bundle_sensor")
    assert second.tags["rexai/champion"] == "2" and second.tags["rexai/sealed_before"] == "1"
    desk_from_resources(defs.resources).registry.set_champion("1", archive="2")  # moved back before it ran
    assert isinstance(tick(defs, instance, "champion_bundle_sensor"), dg.SkipReason)
