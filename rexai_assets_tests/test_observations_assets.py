"""Observations: materialize() of both assets with the raw assets upstream, and their blocking checks."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from rexai_assets.observations.defs import defs as observations_defs
from rexai_assets.raw.defs import defs as raw_defs
from rexai_assets.observations import assets as observation_assets, inbox
from rexai_assets.paths import layout
from rexai_assets.resources import build_resources

FIXTURES = Path(__file__).parent / "fixtures" / "observations"
ALL = [*raw_defs.assets, *raw_defs.asset_checks, *observations_defs.assets, *observations_defs.asset_checks]


def drop_fixture_files(data_root: Path) -> tuple[Path, Path]:
    data = layout(data_root).ensure()
    rows = json.loads((FIXTURES / "experiments_mixed.json").read_text())
    frame = pd.DataFrame([{**r, "recipe_spec": json.dumps(r["recipe_spec"]),
                           "raw_measurements": json.dumps(r["raw_measurements"])} for r in rows])
    for column in ("started_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    experiments = data.experiments_inbox / "experiments_20240501_fixture.parquet"
    frame.to_parquet(experiments, index=False)
    feedback = data.feedback_inbox / "feedback_20240503_fixture.parquet"
    pd.read_csv(FIXTURES / "feedback_mixed.csv", dtype=str, keep_default_na=False).to_parquet(feedback, index=False)
    return experiments, feedback


def materialize(selection: str, instance: dg.DagsterInstance, partition_key: str | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(ALL, selection=dg.AssetSelection.assets(selection), partition_key=partition_key,
                          resources=build_resources(), instance=instance, raise_on_error=False)


@pytest.fixture
def instance(data_root: Path) -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    upstream = dg.materialize(ALL, selection=dg.AssetSelection.assets("waste_inventory", "process_catalog"),
                              resources=build_resources(), instance=instance)
    assert upstream.success
    return instance


def checks_of(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_partitions_are_defined_as_documented() -> None:
    assert observation_assets.experiment_partitions.start.strftime("%Y-%m-%d") == "2020-01-01"
    assert observation_assets.experiment_partitions.end_offset == 1
    assert observation_assets.feedback_partitions.name == "feedback_files"
    for asset in observations_defs.assets:
        spec = next(iter(asset.specs))
        assert spec.group_name == "observations" and spec.kinds and spec.description
        assert {k.to_user_string() for k in asset.dependency_keys} >= {"waste_inventory", "process_catalog"}


def test_materialize_both_assets_with_checks_passing(data_root: Path, instance: dg.DagsterInstance) -> None:
    _, feedback = drop_fixture_files(data_root)
    scan = inbox.scan_inbox(layout(data_root))
    assert observation_assets.register_feedback_partitions(instance, scan.feedback_keys) == [feedback.name]
    assert observation_assets.register_feedback_partitions(instance, scan.feedback_keys) == []

    day = materialize("experiment_runs", instance, "2024-05-01")
    fb = materialize("crew_feedback", instance, feedback.name)

    assert day.success and fb.success
    assert checks_of(day) == {"experiment_runs_pii_free": True, "experiment_measurements_contract": True}
    assert checks_of(fb) == {"crew_feedback_pii_free": True, "feedback_measurements_contract": True}
    summary = day.output_for_node("experiment_runs")
    assert (summary["written"], summary["rejected_rows"], summary["measurements"]) == (3, 7, 2)
    event = day.get_asset_materialization_events()[0].materialization
    assert event.metadata["rows_rejected"].value == 7 and event.metadata["dagster/row_count"].value == 3
    assert list(event.metadata["files_sha256"].value) == ["experiments_20240501_fixture.parquet"]
    assert fb.output_for_node("crew_feedback")["written"] == 3

    again = materialize("experiment_runs", instance, "2024-05-01")
    assert again.success and again.output_for_node("experiment_runs")["data_version"] == summary["data_version"]
    empty_day = materialize("experiment_runs", instance, "2024-05-20")
    assert empty_day.success and empty_day.output_for_node("experiment_runs")["rows_in_partition"] == 0


def test_pii_check_blocks_when_personal_data_reaches_the_warehouse(data_root: Path,
                                                                   instance: dg.DagsterInstance) -> None:
    drop_fixture_files(data_root)
    assert materialize("experiment_runs", instance, "2024-05-01").success
    con = duckdb.connect(str(layout(data_root).warehouse))
    con.execute("UPDATE observations.experiment_runs SET next_actions = 'ring +1 555 0100' "
                "WHERE experiment_id = 'E-002'")
    con.close()

    result = materialize("experiment_runs", instance, "2024-05-02")

    assert checks_of(result)["experiment_runs_pii_free"] is False
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == "experiment_runs_pii_free")
    assert evaluation.metadata["findings"].value == ["experiment_runs.next_actions: 1 value(s) with phone"]
