"""The inference log: one atomic, uniquely named file per serving call, compacted into the warehouse."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from rexai_assets import inference_log
from rexai_assets.contract import TARGETS
from rexai_assets.paths import layout

IDENTITY = {"model_source": "model", "model_version": "3", "model_hash": "m" * 64, "feature_order_hash": "f" * 64}
SPEC = {"recipe_id": "foam", "items": [{"waste_id": "W001", "mass_frac": 1.0}], "process_id": "P03", "regolith_frac": 0.2}
PREDICTION = {t: {"value": 0.5, "lo": 0.4, "hi": 0.6} for t in TARGETS}


def served(n: int = 2) -> list[inference_log.Served]:
    return [inference_log.served_from_spec(dict(SPEC, regolith_frac=0.1 * i), PREDICTION) for i in range(n)]


def test_one_call_one_file_with_every_field(tmp_path):
    path = inference_log.log_inference(tmp_path, "recommend", IDENTITY, served(2), preset="Container", latency_ms=12.5)
    assert path.parent == tmp_path and path.name.startswith("inference_") and path.suffix == ".parquet"
    frame = pd.read_parquet(path)
    assert list(frame.columns) == list(inference_log.COLUMNS) and len(frame) == 2
    row = frame.iloc[1]
    assert (row["command"], row["model_version"], row["model_hash"], row["preset"], row["latency_ms"]) == (
        "recommend", "3", "m" * 64, "Container", 12.5)
    assert row["recipe_id"] == "foam" and row["recipe_key"].startswith("R-") and len(row["recipe_hash"]) == 64
    assert frame["recipe_hash"].nunique() == 2 and frame["call_id"].nunique() == 1
    assert (row["rigidity"], row["rigidity_lo"], row["crew_min_hi"]) == (0.5, 0.4, 0.6)
    assert frame["habitat"].isna().all() and frame["adapter_version"].isna().all()  # the shared model answered
    assert inference_log.log_inference(tmp_path, "predict", IDENTITY, []) is None   # nothing served: no file
    adapted = inference_log.log_inference(tmp_path, "predict", {**IDENTITY, "habitat": "gale", "adapter_version": 2},
                                          served(1))
    assert pd.read_parquet(adapted)[["habitat", "adapter_version"]].values.tolist() == [["gale", "2"]]


def test_concurrent_calls_never_share_or_lose_a_file(tmp_path):
    def call() -> None:
        for _ in range(5):
            inference_log.log_inference(tmp_path, "predict", IDENTITY, served(1))

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    files = inference_log.pending_files(tmp_path)
    assert len(files) == 30 and not list(tmp_path.glob(".*"))   # no temporary file left behind
    assert pd.concat(pd.read_parquet(f) for f in files)["entry_id"].nunique() == 30


def test_compaction_moves_files_into_the_warehouse_once(tmp_path):
    folder, quarantine = tmp_path / "inference", tmp_path / "quarantine"
    inference_log.log_inference(folder, "predict", IDENTITY, served(2))
    inference_log.log_inference(folder, "recommend", IDENTITY, served(3), preset="Container")
    (folder / "inference_broken.parquet").write_bytes(b"not parquet")
    kept = inference_log.pending_files(folder)[0].read_bytes()
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert inference_log.compact(con, folder, quarantine) == 5
    assert inference_log.pending_files(folder) == [] and (quarantine / "inference_broken.parquet").exists()
    (folder / "inference_again.parquet").write_bytes(kept)          # a file compacted twice adds nothing
    assert inference_log.compact(con, folder, quarantine) == 0
    log = inference_log.read_log(con)
    assert len(log) == 5 and sorted(log["command"].unique()) == ["predict", "recommend"]
    assert set(log.columns) == set(inference_log.COLUMNS)


def test_predict_command_logs_what_it_printed(tmp_path, capsys):
    from rexai_assets.cli import main
    from rexai_assets.gold.contract import feature_order_hash

    recipes = tmp_path / "r.json"
    recipes.write_text(json.dumps([SPEC, dict(SPEC, recipe_id=None, regolith_frac=0.0)]))
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    assert main(["predict", str(recipes), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    files = inference_log.pending_files(layout().inference_log)
    assert len(files) == 1
    log = pd.read_parquet(files[0])
    assert log["command"].tolist() == ["predict", "predict"] and log["preset"].isna().all()
    assert log["model_source"].tolist() == ["heuristic"] * 2 and log["model_version"].isna().all()
    assert set(log["feature_order_hash"]) == {feature_order_hash()} and (log["latency_ms"] > 0).all()
    assert log["recipe_id"].tolist() == [e["recipe_id"] for e in printed]
    assert log["crew_min"].tolist() == [e["prediction"]["crew_min"]["value"] for e in printed]
    assert (log["logged_at"] >= pd.Timestamp(before)).all()


def test_a_log_that_cannot_be_written_does_not_fail_the_answer(tmp_path, capsys, monkeypatch):
    from rexai_assets.cli import main

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(inference_log, "write_entries", refuse)
    recipes = tmp_path / "r.json"
    recipes.write_text(json.dumps([SPEC]))
    assert main(["predict", str(recipes), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)[0]["recipe_id"] == "foam"
    assert captured.err.strip() == "rexai predict: warning: inference log not written (Permission denied)"


def test_reading_the_log_for_some_recipes(tmp_path):
    folder = tmp_path / "inference"
    items = served(3)
    inference_log.log_inference(folder, "predict", IDENTITY, items)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert inference_log.read_log(con).empty                       # nothing compacted yet
    inference_log.compact(con, folder, tmp_path / "quarantine")
    assert inference_log.read_log(con, [items[1].recipe_key])["recipe_key"].tolist() == [items[1].recipe_key]
    assert inference_log.read_log(con, []).empty and len(inference_log.read_log(con)) == 3


def test_a_log_table_made_before_the_adapter_columns_gains_them(tmp_path):
    """Migration: an older table (no habitat / adapter_version) and older files compact with NULLs there."""
    folder, quarantine = tmp_path / "inference", tmp_path / "quarantine"
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    old_columns = inference_log.COLUMNS[:-2]
    con.execute(inference_log.DDL.split("latency_ms DOUBLE")[0] + "latency_ms DOUBLE)")
    assert [r[0] for r in con.execute("DESCRIBE registry.inference_log").fetchall()] == list(old_columns)
    old_file = inference_log.log_inference(folder, "predict", IDENTITY, served(1))
    pd.read_parquet(old_file)[list(old_columns)].to_parquet(old_file, index=False)   # a file written before
    inference_log.log_inference(folder, "predict", {**IDENTITY, "habitat": "jezero", "adapter_version": "3"},
                                served(2))
    assert inference_log.read_log(con)[["habitat", "adapter_version"]].empty      # read before: every column
    assert inference_log.compact(con, folder, quarantine) == 3 and not quarantine.exists()
    assert [r[0] for r in con.execute("DESCRIBE registry.inference_log").fetchall()] == list(inference_log.COLUMNS)
    log = inference_log.read_log(con)
    assert sorted(map(str, log["habitat"])) == ["None", "jezero", "jezero"]
    assert log.loc[log["habitat"] == "jezero", "adapter_version"].tolist() == ["3", "3"]
    assert log.loc[log["habitat"].isna(), "rigidity"].tolist() == [0.5]
