"""Observations: inbox scan, quarantine and idempotent warehouse ingestion (plain functions)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from rexai_assets.ingestion_log import read_rejections
from rexai_assets.observations import ingest, inbox, records
from rexai_assets.paths import DataLayout, layout
from rexai_assets.recipes import RecipeCatalog

FIXTURES = Path(__file__).parent / "fixtures" / "observations"
NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)


@pytest.fixture
def data(data_root: Path) -> DataLayout:
    return layout(data_root).ensure()


@pytest.fixture
def catalog(data: DataLayout) -> RecipeCatalog:
    from rexai_assets.raw.tables import load_raw_tables

    tables = load_raw_tables(data.raw)
    return RecipeCatalog.from_frames(tables.inventory, tables.processes)


def experiment(experiment_id: str, finished: str = "2024-05-01T09:00:00Z", rigidity: float | None = 0.5,
               **overrides: object) -> dict:
    measurements = {} if rigidity is None else {"rigidity": rigidity}
    row = {"experiment_id": experiment_id, "environment": "lab", "operator_id": "OP-7",
           "recipe_spec": json.dumps({"items": [{"waste_id": "W003", "mass_frac": 0.6},
                                                {"waste_id": "W011", "mass_frac": 0.4}], "process_id": "P02"}),
           "started_at": pd.Timestamp(finished) - pd.Timedelta(hours=1), "finished_at": finished,
           "raw_measurements": json.dumps(measurements), "verdict": "pass", "next_actions": "none"}
    row.update(overrides)
    return row


def drop_file(folder: Path, name: str, rows: list[dict]) -> Path:
    """A hand-dropped inbox file (not validated first, unlike the CLI's)."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    for column in ("started_at", "finished_at", "submitted_at"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    frame.to_parquet(folder / name, index=False)
    return folder / name


def snapshot(data: DataLayout) -> dict[str, list]:
    con = duckdb.connect(str(data.warehouse), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM observations.{t} ORDER BY 1").fetchall()
                for t in ("experiment_runs", "crew_feedback", "measurements")}
    finally:
        con.close()


def connect(data: DataLayout) -> ingest.Connect:
    return ingest.duckdb_connect(data.warehouse)


def test_truncated_and_foreign_files_go_to_quarantine_whole(data: DataLayout) -> None:
    good = drop_file(data.experiments_inbox, "experiments_20240501_a.parquet", [experiment("E1")])
    truncated = drop_file(data.experiments_inbox, "experiments_20240501_b.parquet", [experiment("E2")])
    cut = truncated.read_bytes()[: truncated.stat().st_size // 2]
    truncated.write_bytes(cut)
    (data.feedback_inbox / "feedback_notes.parquet").write_text("feedback_id,notes\nF1,hello\n")
    (data.experiments_inbox / "experiments_notadate.parquet").write_bytes(good.read_bytes())
    drop_file(data.feedback_inbox, "feedback_wrong_columns.parquet", [{"id": 1}])

    scan = inbox.scan_inbox(data, now=NOW)

    assert list(scan.experiment_days) == ["2024-05-01"]
    assert [f.name for f in scan.experiment_days["2024-05-01"]] == [good.name]
    assert scan.feedback_files == ()
    moved = {q.destination.name: q.reason for q in scan.quarantined}
    assert set(moved) == {"experiments_20240501_b.parquet", "feedback_notes.parquet",
                          "experiments_notadate.parquet", "feedback_wrong_columns.parquet"}
    assert "not a readable parquet file" in moved["experiments_20240501_b.parquet"]
    assert "missing column(s) feedback_id" in moved["feedback_wrong_columns.parquet"]
    assert (data.quarantine / truncated.name).read_bytes() == cut and not truncated.exists()
    logged = {r["source_file"]: r for r in read_rejections(data.ingestion_errors)}
    assert logged["inbox/experiments/experiments_20240501_b.parquet"]["line"] is None
    assert "quarantine/experiments_20240501_b.parquet" in logged["inbox/experiments/experiments_20240501_b.parquet"]["reason"]
    assert scan.cursor() == {good.name: scan.experiment_days["2024-05-01"][0].sha256}
    assert scan.new_experiment_days(scan.cursor()) == []
    assert scan.new_experiment_days({}) == ["2024-05-01"]
    # a second file with the same name is quarantined beside the first, never over it
    truncated.write_bytes(b"garbage")
    again = inbox.scan_inbox(data, now=NOW)
    assert len(again.quarantined) == 1 and again.quarantined[0].destination.name != truncated.name
    assert (data.quarantine / truncated.name).read_bytes() == cut


def test_unreadable_file_during_ingest_is_quarantined_and_good_files_kept(data: DataLayout, catalog) -> None:
    drop_file(data.experiments_inbox, "experiments_20240501_a.parquet", [experiment("E1"), experiment("E2")])
    (data.experiments_inbox / "experiments_20240501_b.parquet").write_bytes(b"PAR1 not really")

    report = ingest.ingest_experiment_day(data, "2024-05-01", connect(data), catalog, now=NOW)

    assert report.quarantined == ["experiments_20240501_b.parquet"]
    assert report.written == 2 and report.measurements == 2 and report.rows_in_partition == 2
    assert (data.quarantine / "experiments_20240501_b.parquet").exists()


def test_rejected_rows_logged_valid_rows_kept_and_reingest_changes_nothing(data: DataLayout, catalog) -> None:
    rows = json.loads((FIXTURES / "experiments_mixed.json").read_text())
    for row in rows:
        row["recipe_spec"] = json.dumps(row["recipe_spec"])
        row["raw_measurements"] = json.dumps(row["raw_measurements"])
    drop_file(data.experiments_inbox, "experiments_20240501_lab.parquet", rows)

    first = ingest.ingest_experiment_day(data, "2024-05-01", connect(data), catalog, run_id="run-1", now=NOW)
    before, log_before = snapshot(data), read_rejections(data.ingestion_errors)
    second = ingest.ingest_experiment_day(data, "2024-05-01", connect(data), catalog, run_id="run-2",
                                          now=datetime(2024, 6, 2, tzinfo=timezone.utc))

    assert (first.written, first.rejected_rows, first.measurements) == (3, 7, 2)  # E-002 has no target
    assert {r["line"] for r in log_before} == {3, 4, 5, 6, 7, 8, 9}
    assert all(r["layer"] == "observations" and r["run_id"] == "run-1" for r in log_before)
    assert snapshot(data) == before  # same rows, same ingested_at
    assert read_rejections(data.ingestion_errors) == log_before
    assert second.data_version == first.data_version and second.rows_in_partition == 3

    runs = {r[0]: r for r in before["experiment_runs"]}
    assert set(runs) == {"E-001", "E-002", "E-010"}
    text = json.dumps(before, default=str)
    assert "ana.perez" not in text and "555 0100" not in text and "Pérez" not in text and "Müller" not in text
    assert "OP-ana" not in text
    measurements = pd.DataFrame(before["measurements"], columns=[
        "observation_id", "kind", "recipe_id", "recipe_spec", "process_id", "label_source", "observed_at",
        *records.TARGETS, "partition_key", "source_file", "source_sha256", "ingested_at"])
    assert list(measurements["observation_id"]) == ["E-001", "E-010"]
    assert list(measurements["label_source"]) == ["lab", "analog_field"]
    assert measurements["partition_key"].eq("2024-05-01").all()
    assert measurements.loc[1, "observed_at"] == pd.Timestamp("2024-05-01 09:15:00")  # naive UTC
    assert pd.isna(measurements.loc[1, "rigidity"]) and measurements.loc[1, "crew_min"] == 22


def test_warehouse_columns_match_the_measurements_contract(data: DataLayout, catalog) -> None:
    drop_file(data.experiments_inbox, "experiments_20240501_a.parquet", [experiment("E1")])
    ingest.ingest_experiment_day(data, "2024-05-01", connect(data), catalog, now=NOW)
    con = duckdb.connect(str(data.warehouse), read_only=True)
    columns = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
                          "'observations' AND table_name = 'measurements' ORDER BY ordinal_position").fetchall()
    con.close()
    assert columns == [("observation_id", "VARCHAR"), ("kind", "VARCHAR"), ("recipe_id", "VARCHAR"),
                       ("recipe_spec", "VARCHAR"), ("process_id", "VARCHAR"), ("label_source", "VARCHAR"),
                       ("observed_at", "TIMESTAMP"), *[(t, "DOUBLE") for t in records.TARGETS],
                       ("partition_key", "VARCHAR"), ("source_file", "VARCHAR"), ("source_sha256", "VARCHAR"),
                       ("ingested_at", "TIMESTAMP")]


def test_conflicting_duplicate_from_another_partition_is_reported_not_overwritten(data: DataLayout, catalog) -> None:
    drop_file(data.experiments_inbox, "experiments_20240501_a.parquet", [experiment("E1", rigidity=0.2)])
    drop_file(data.experiments_inbox, "experiments_20240502_a.parquet",
              [experiment("E1", "2024-05-02T09:00:00Z", rigidity=0.9), experiment("E2", "2024-05-02T09:00:00Z")])
    ingest.ingest_experiment_day(data, "2024-05-01", connect(data), catalog, now=NOW)

    report = ingest.ingest_experiment_day(data, "2024-05-02", connect(data), catalog, now=NOW)
    again = ingest.ingest_experiment_day(data, "2024-05-01", connect(data), catalog, now=NOW)

    assert report.conflicts == 1 and report.written == 1
    assert again.written == 1 and again.conflicts == 0  # the first partition still owns E1
    stored = snapshot(data)["measurements"]
    assert [(r[0], r[7]) for r in stored] == [("E1", 0.2), ("E2", 0.5)]
    conflict = [r for r in read_rejections(data.ingestion_errors) if r["column"] == "experiment_id"]
    assert len(conflict) == 1 and conflict[0]["line"] == 1
    assert "already stored from partition 2024-05-01" in conflict[0]["reason"]
    assert conflict[0]["source_file"] == "inbox/experiments/experiments_20240502_a.parquet"


def test_duplicates_across_files_of_one_day(data: DataLayout, catalog) -> None:
    drop_file(data.experiments_inbox, "experiments_20240501_a.parquet", [experiment("E1"), experiment("E2")])
    drop_file(data.experiments_inbox, "experiments_20240501_b.parquet",
              [experiment("E1"), experiment("E2", rigidity=0.7), experiment("E3")])
    report = ingest.ingest_experiment_day(data, "2024-05-01", connect(data), catalog, now=NOW)
    assert (report.written, report.duplicates_identical, report.conflicts) == (3, 1, 1)
    assert "first in experiments_20240501_a.parquet row 2" in report.rejections[0].reason


def test_feedback_file_ingest_and_identical_repeat_in_another_file(data: DataLayout, catalog) -> None:
    frame = pd.read_csv(FIXTURES / "feedback_mixed.csv", dtype=str, keep_default_na=False)
    valid = records.validate_feedback(frame, catalog, "feedback_mixed.csv", now=NOW).records
    one = inbox.write_feedback_file(valid, data)
    two = inbox.write_feedback_file(valid.iloc[:1], data)
    scan = inbox.scan_inbox(data, now=NOW)
    assert scan.feedback_keys == sorted([one.name, two.name])

    first = ingest.ingest_feedback_file(data, one.name, connect(data), catalog, now=NOW)
    repeat = ingest.ingest_feedback_file(data, two.name, connect(data), catalog, now=NOW)

    assert (first.written, first.measurements) == (3, 2)  # F-008 has no target
    assert (repeat.written, repeat.duplicates_identical, repeat.conflicts) == (0, 1, 0)
    stored = snapshot(data)
    feedback = {r[0]: r for r in stored["crew_feedback"]}
    assert set(feedback) == {"F-001", "F-002", "F-008"}
    assert "[NAME]" in feedback["F-001"][13] and "[EMAIL]" in feedback["F-001"][13]
    assert "[PHONE]" in feedback["F-008"][13]
    assert {r[5] for r in stored["measurements"]} == {"crew_feedback"}
    gone = ingest.ingest_feedback_file(data, "feedback_missing.parquet", connect(data), catalog, now=NOW)
    assert gone.files == {} and snapshot(data) == stored


def test_experiment_writer_splits_by_day_and_never_reuses_a_name(data: DataLayout, catalog) -> None:
    frame = pd.DataFrame([experiment("E1"), experiment("E2", "2024-05-02T23:30:00+00:00"),
                          experiment("E3", "2024-05-03T00:30:00+02:00")])
    valid = records.validate_experiments(frame, catalog, "x", now=NOW).records
    first = inbox.write_experiment_files(valid, data)
    second = inbox.write_experiment_files(valid, data)
    assert [p.name[:20] for p in first] == ["experiments_20240501", "experiments_20240502"]
    assert set(first).isdisjoint(second)
    assert sorted(p.name for p in data.experiments_inbox.iterdir()) == sorted(p.name for p in first + second)
    scan = inbox.scan_inbox(data, now=NOW)
    assert {d: sum(f.rows for f in files) for d, files in scan.experiment_days.items()} == {
        "2024-05-01": 2, "2024-05-02": 4}


def test_file_with_only_invalid_rows_writes_nothing_but_logs_every_row(data: DataLayout, catalog) -> None:
    drop_file(data.experiments_inbox, "experiments_20240501_a.parquet",
              [experiment("E1", rigidity=2.0), experiment("E2", verdict="unknown")])
    report = ingest.ingest_experiment_day(data, "2024-05-01", connect(data), catalog, now=NOW)
    assert (report.written, report.rejected_rows, report.rows_in_partition) == (0, 2, 0)
    assert [r["line"] for r in read_rejections(data.ingestion_errors)] == [1, 2]
    assert snapshot(data) == {"experiment_runs": [], "crew_feedback": [], "measurements": []}


def test_scan_leaves_tomorrow_waiting_and_quarantines_impossible_days(data: DataLayout) -> None:
    drop_file(data.experiments_inbox, "experiments_20240602_a.parquet", [experiment("E1", "2024-06-02T00:10:00Z")])
    drop_file(data.experiments_inbox, "experiments_20190101_a.parquet", [experiment("E2", "2019-01-01T10:00:00Z")])
    drop_file(data.experiments_inbox, "experiments_20240701_a.parquet", [experiment("E3", "2024-07-01T10:00:00Z")])
    (data.experiments_inbox / ".experiments_20240601_x.parquet.abc.tmp").write_bytes(b"half")  # a writer at work

    scan = inbox.scan_inbox(data, now=NOW)

    assert scan.experiment_days == {}
    assert sorted(q.destination.name for q in scan.quarantined) == ["experiments_20190101_a.parquet",
                                                                   "experiments_20240701_a.parquet"]
    assert (data.experiments_inbox / "experiments_20240602_a.parquet").exists()
    assert (data.experiments_inbox / ".experiments_20240601_x.parquet.abc.tmp").exists()
    later = inbox.scan_inbox(data, now=datetime(2024, 6, 2, 12, tzinfo=timezone.utc))
    assert list(later.experiment_days) == ["2024-06-02"]
