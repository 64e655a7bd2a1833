"""Observations: `rexai log-experiment` / `rexai feedback`, including eight concurrent writer processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from rexai_assets.cli import main
from rexai_assets.observations import ingest, inbox
from rexai_assets.paths import layout

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "observations"
CLI = "import sys; from rexai_assets.cli import main; sys.exit(main(sys.argv[1:]))"


def experiment_records(prefix: str, count: int) -> list[dict]:
    return [{"experiment_id": f"{prefix}-{i:03d}", "environment": "lab", "operator_id": f"OP-{prefix}",
             "recipe_spec": {"items": [{"waste_id": "W003", "mass_frac": 0.6}, {"waste_id": "W011", "mass_frac": 0.4}],
                             "process_id": "P02", "regolith_frac": round(0.005 * (i % 100), 3)},
             "started_at": f"2024-05-0{1 + i % 2}T08:00:00Z", "finished_at": f"2024-05-0{1 + i % 2}T09:00:00Z",
             "raw_measurements": {"rigidity": 0.5, "energy_kwh": 0.1 * (i % 7)}, "verdict": "pass",
             "next_actions": "none"} for i in range(count)]


def inbox_rows(folder: Path) -> int:
    return sum(len(pd.read_parquet(p)) for p in folder.glob("*.parquet"))


def test_log_experiment_writes_validated_records_per_day(tmp_path: Path, data_root: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "records.json"
    source.write_text(json.dumps(experiment_records("A", 4)))
    assert main(["log-experiment", str(source)]) == 0
    data = layout(data_root)
    files = sorted(data.experiments_inbox.glob("experiments_*.parquet"))
    assert [f.name[:20] for f in files] == ["experiments_20240501", "experiments_20240502"]
    assert inbox_rows(data.experiments_inbox) == 4
    assert not [p for p in data.experiments_inbox.iterdir() if p.name.startswith(".")]  # no temp files left
    written = pd.read_parquet(files[0])
    assert json.loads(written.loc[0, "recipe_spec"])["process_id"] == "P02"  # canonical spec text
    assert "wrote 2 experiment record(s) to inbox/experiments/experiments_20240501_" in capsys.readouterr().out


def test_any_invalid_row_rejects_the_whole_file(data_root: Path, capsys: pytest.CaptureFixture) -> None:
    for command, fixture in (("log-experiment", "experiments_mixed.json"), ("feedback", "feedback_mixed.csv")):
        assert main([command, str(FIXTURES / fixture)]) == 1
        error = capsys.readouterr().err.strip()
        assert len(error.splitlines()) == 1
        assert "nothing written" in error
    data = layout(data_root)
    assert inbox_rows(data.experiments_inbox) == 0 and inbox_rows(data.feedback_inbox) == 0


def test_first_reason_names_file_row_and_column(capsys: pytest.CaptureFixture) -> None:
    assert main(["feedback", str(FIXTURES / "feedback_mixed.csv")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"rexai feedback: {FIXTURES / 'feedback_mixed.csv'}:4 [rating]: rating must be 1-5, got 7.0 "
        "(5 of 8 row(s) invalid; nothing written)")
    assert main(["log-experiment", str(FIXTURES / "experiments_mixed.json")]) == 1
    assert "experiments_mixed.json:3 [recipe_spec]: recipe_spec: unknown waste_id 'W999' (7 of 10 row(s) invalid" \
        in capsys.readouterr().err


@pytest.mark.parametrize("name, content, message", [
    ("missing.csv", None, "file not found"),
    ("records.txt", "x", "unsupported format '.txt'"),
    ("records.json", "{\"experiment_id\": 1}", "must be a list of record objects"),
    ("records.json", "[{", "not valid JSON"),
    ("records.parquet", "PAR1", "cannot read parquet"),
    ("records.csv", "a,b\n1,2\n", "not a experiment file, missing column(s) experiment_id"),
    ("records.json", "[]", "no records"),
])
def test_bad_input_exits_1_with_one_line(tmp_path: Path, data_root: Path, capsys: pytest.CaptureFixture,
                                         name: str, content: str | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    assert main(["log-experiment", str(path)]) == 1
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1
    assert not layout(data_root).experiments_inbox.exists() or inbox_rows(layout(data_root).experiments_inbox) == 0


def test_feedback_command_accepts_csv_json_and_parquet(tmp_path: Path, data_root: Path) -> None:
    frame = pd.read_csv(FIXTURES / "feedback_mixed.csv", dtype=str, keep_default_na=False)
    good = frame[frame["feedback_id"].isin(["F-001", "F-002", "F-008"])]
    good.to_csv(tmp_path / "f.csv", index=False)
    (tmp_path / "f.json").write_text(good.assign(feedback_id=good["feedback_id"] + "j").to_json(orient="records"))
    good.assign(feedback_id=good["feedback_id"] + "p").to_parquet(tmp_path / "f.parquet")
    for name in ("f.csv", "f.json", "f.parquet"):
        assert main(["feedback", str(tmp_path / name)]) == 0, name
    data = layout(data_root)
    files = sorted(data.feedback_inbox.glob("feedback_*.parquet"))
    assert len(files) == 3 and inbox_rows(data.feedback_inbox) == 9


@pytest.mark.integration
def test_eight_processes_writing_at_once_lose_nothing(tmp_path: Path, data_root: Path) -> None:
    sources = []
    for worker in range(8):
        sources.append(tmp_path / f"worker{worker}.json")
        sources[-1].write_text(json.dumps(experiment_records(f"P{worker}", 100)))
    env = dict(os.environ)
    processes = [subprocess.Popen([sys.executable, "-c", CLI, "log-experiment", str(source)], env=env, cwd=REPO,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for source in sources]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0] * 8, [err for _, err in outputs]

    data = layout(data_root)
    scan = inbox.scan_inbox(data)
    assert scan.quarantined == ()
    assert {day: len(files) for day, files in scan.experiment_days.items()} == {"2024-05-01": 8, "2024-05-02": 8}
    from rexai_assets.raw.tables import load_raw_tables
    from rexai_assets.recipes import RecipeCatalog

    tables = load_raw_tables(data.raw)
    catalog = RecipeCatalog.from_frames(tables.inventory, tables.processes)
    connect = ingest.duckdb_connect(data.warehouse)
    reports = [ingest.ingest_experiment_day(data, day, connect, catalog) for day in scan.experiment_days]
    assert sum(r.written for r in reports) == 800 and sum(r.rejected_rows for r in reports) == 0
    con = duckdb.connect(str(data.warehouse), read_only=True)
    counts = con.execute("SELECT (SELECT count(*) FROM observations.experiment_runs), "
                         "(SELECT count(DISTINCT observation_id) FROM observations.measurements)").fetchone()
    con.close()
    assert counts == (800, 800)
