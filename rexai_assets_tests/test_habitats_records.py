"""Habitats as data: config, record validation, scrubbing and the warehouse check, the gold column, the policy."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import duckdb
import pandas as pd
import pytest

from rexai_assets import settings
from rexai_assets.habitat_config import habitats_config
from rexai_assets.observations.pii import PiiScrubber
from rexai_assets.observations.records import (EXPERIMENT, FEEDBACK, prepare_for_warehouse, validate_experiments,
                                                validate_feedback)

SPEC = '{"items": [{"waste_id": "W003", "mass_frac": 1.0}], "process_id": "P02", "regolith_frac": 0.0}'
NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)


def feedback(**overrides) -> dict:
    row = {"feedback_id": "F-1", "recipe_spec": SPEC, "operator_id": "op-7", "submitted_at": "2025-05-01T10:00:00Z",
           "habitat": "jezero", "rigidity": 0.5, "notes": "fine"}
    return {**row, **overrides}


def experiment(**overrides) -> dict:
    row = {"experiment_id": "E-1", "recipe_spec": SPEC, "environment": "lab", "operator_id": "op-7",
           "started_at": "2025-05-01T09:00:00Z", "finished_at": "2025-05-01T10:00:00Z",
           "raw_measurements": '{"rigidity": 0.5}', "verdict": "pass", "next_actions": "none"}
    return {**row, **overrides}


def test_config_lists_habitats_and_refuses_bad_ids(config_override):
    cfg = habitats_config()
    assert cfg.ids == ("jezero", "gale", "utopia") and cfg.adapter_for("gale").min_rows == 50
    config_override("habitats.yaml", {"overrides": {"gale": {"min_rows": 80}}})
    assert habitats_config().adapter_for("gale").min_rows == 80 and habitats_config().adapter_for("jezero").min_rows == 50
    config_override("habitats.yaml", {"habitats": [{"id": "Jezero Base", "name": "x"}]})
    with pytest.raises(settings.ConfigError, match="lower-case"):
        habitats_config()


def test_golden_share_may_not_leave_the_shared_golden_set(config_override):
    from rexai_assets.habitats.rows import check_golden_share

    config_override("habitats.yaml", {"adapter": {"golden_share": 0.3}})
    with pytest.raises(settings.ConfigError, match="golden_measured_share"):
        check_golden_share(habitats_config().adapter, "jezero")


def test_unknown_feedback_habitat_is_a_rejected_row_and_the_rest_goes_through():
    frame = pd.DataFrame([feedback(), feedback(feedback_id="F-2", habitat="Mars Nine"),
                          feedback(feedback_id="F-3", habitat=None), feedback(feedback_id="F-4", habitat=" Gale ")])
    result = validate_feedback(frame, None, "inbox/feedback/feedback_a.parquet", now=NOW)
    assert list(result.records["feedback_id"]) == ["F-1", "F-3", "F-4"]
    assert list(result.records["habitat"]) == ["jezero", None, "gale"]
    (rejected,) = result.rejected
    assert rejected.line == 2 and rejected.column == "habitat"
    assert rejected.one_line().startswith("inbox/feedback/feedback_a.parquet")
    assert "'mars nine' is not a habitat id of config/habitats.yaml (known: jezero, gale, utopia)" in rejected.reason


def test_experiment_records_take_an_optional_habitat_and_older_files_still_load():
    old = validate_experiments(pd.DataFrame([experiment()]), None, "old.parquet", now=NOW)
    assert old.rejected == [] and old.records["habitat"].tolist() == [None]
    new = validate_experiments(pd.DataFrame([experiment(habitat="utopia"), experiment(experiment_id="E-2",
                                                                                        habitat="atlantis")]),
                               None, "new.parquet", now=NOW)
    assert new.records["habitat"].tolist() == ["utopia"] and [r.column for r in new.rejected] == ["habitat"]


def test_habitat_is_not_scrubbed_but_every_free_text_column_is():
    # A habitat id that a blocklist name would match must survive (it is validated, not free text)...
    scrubber = PiiScrubber(names=("Gale",))
    result = validate_feedback(pd.DataFrame([feedback(habitat="gale", notes="ask Gale")]), None, "f.csv", now=NOW,
                               scrubber=scrubber)
    prepared = prepare_for_warehouse(result.records, FEEDBACK, b"key", scrubber)
    assert prepared["habitat"].tolist() == ["gale"] and prepared["notes"].tolist() == ["ask [NAME]"]
    assert "habitat" not in FEEDBACK.free_text and "habitat" not in EXPERIMENT.free_text


def test_warehouse_check_holds_habitat_columns_to_known_ids(tmp_path):
    from rexai_assets.observations.warehouse_io import ensure_tables, find_warehouse_pii

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_tables(con)
    con.execute("INSERT INTO observations.crew_feedback (feedback_id, recipe_id, process_id, recipe_spec, habitat, "
                "submitted_at, notes, content_sha256, partition_key, source_file, source_sha256, ingested_at) VALUES "
                "('F-1', 'R', 'P02', '{}', 'gale', now(), 'call ana.perez@habitat.mars', 'h', 'k', 'f', 's', now()),"
                "('F-2', 'R', 'P02', '{}', 'Ana Pérez', now(), NULL, 'h', 'k', 'f', 's', now())")
    found = {(f.table, f.column, f.kind) for f in find_warehouse_pii(con, PiiScrubber(names=("Ana Pérez",)))}
    assert found == {("crew_feedback", "notes", "email"), ("crew_feedback", "habitat", "not a habitat id")}


def test_an_older_warehouse_gains_the_experiment_habitat_column(tmp_path):
    from rexai_assets.gold.dataset import read_measurements
    from rexai_assets.observations.warehouse_io import ensure_tables

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_tables(con)
    con.execute("ALTER TABLE observations.experiment_runs DROP COLUMN habitat")
    assert "habitat" in read_measurements(con).columns  # gold reads an old warehouse (NULL habitats)
    ensure_tables(con)
    columns = [r[0] for r in con.execute("DESCRIBE observations.experiment_runs").fetchall()]
    assert "habitat" in columns


def test_gold_rows_carry_the_habitat():
    from rexai_assets.gold.candidates import recipe_candidates_pool
    from rexai_assets.gold.dataset import build_gold_dataset, empty_measurements
    from rexai_assets.paths import SHIPPED_RAW_DIR
    from rexai_assets.raw.tables import load_raw_tables

    tables = load_raw_tables(SHIPPED_RAW_DIR)
    rows = empty_measurements().reindex(range(2))
    rows = rows.assign(observation_id=["E-1", "E-2"], kind="experiment", recipe_id=[None, None], recipe_spec=SPEC,
                       process_id="P02", label_source="lab", observed_at=pd.Timestamp("2025-01-01"), rigidity=0.4,
                       verdict="pass", habitat=["jezero", None])
    gold = build_gold_dataset(tables, recipe_candidates_pool(tables, size=300), rows)
    measured = gold.frame[gold.frame["label_source"] == "lab"].sort_values("observation_id")
    assert measured["habitat"].tolist() == ["jezero", None]
    assert gold.frame.loc[gold.frame["label_source"] == "simulated", "habitat"].isna().all()


def test_adapter_retrain_policy_respects_cooldown_and_weekly_limit():
    from rexai_assets.habitats.policy import FIRST, NEW_BASE, NEW_ROWS, AdapterLimits, decide_adapter_retrain

    limits = AdapterLimits(min_new_rows=30, max_retrains_per_week=2, cooldown_hours=12)
    now = datetime(2025, 6, 1, 12, tzinfo=timezone.utc)
    assert decide_adapter_retrain(now, "gale", 40, False, True, [], limits).trigger == FIRST
    assert not decide_adapter_retrain(now, "gale", 10, False, True, [], limits).retrain
    day = timedelta(days=1)
    assert decide_adapter_retrain(now, "gale", 40, False, False, [now - 2 * day], limits).trigger == NEW_ROWS
    assert decide_adapter_retrain(now, "gale", 0, True, False, [now - 2 * day], limits).trigger == NEW_BASE
    cooling = decide_adapter_retrain(now, "gale", 400, True, False, [now - timedelta(hours=3)], limits)
    assert not cooling.retrain and "cooldown" in cooling.reason
    busy = decide_adapter_retrain(now, "gale", 400, True, False, [now - day, now - 3 * day], limits)
    assert not busy.retrain and "2 adapter runs in the last 7 days" in busy.reason
    assert decide_adapter_retrain(now, "gale", 400, False, False, [now - day, now - 8 * day], limits).retrain


def test_retraining_yaml_declares_per_habitat_limits(config_override):
    from rexai_assets.habitats.policy import habitat_retraining
    from rexai_assets.loop.policy import retraining_settings

    config_override("retraining.yaml", {"habitat_adapters": {"per_habitat": {"gale": {"cooldown_hours": 48}}}})
    assert habitat_retraining().limits("gale").cooldown_hours == 48
    assert habitat_retraining().limits("jezero").cooldown_hours == 12
    assert retraining_settings().habitat_adapters.limits("gale").cooldown_hours == 48


def test_sensor_counts_a_habitats_new_trusted_rows_and_asks_within_limits(tmp_path):
    import dagster as dg

    from rexai_assets.habitats.sensors import habitat_request, new_trusted_rows
    from rexai_assets.observations.warehouse_io import ensure_tables

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_tables(con)
    for i in range(40):
        habitat, source = ("jezero", "lab") if i < 35 else ("gale", "lab")
        con.execute("INSERT INTO observations.experiment_runs (experiment_id, recipe_id, process_id, recipe_spec, "
                    "environment, started_at, finished_at, verdict, habitat, content_sha256, partition_key, "
                    "source_file, source_sha256, ingested_at) VALUES (?, 'R', 'P02', '{}', ?, now(), now(), 'pass', ?, "
                    "'h', 'k', 'f', 's', now())", [f"E-{i}", source, habitat])
        con.execute("INSERT INTO observations.measurements (observation_id, kind, recipe_id, label_source, rigidity, "
                    "ingested_at) VALUES (?, 'experiment', 'R', ?, 0.5, now())", [f"E-{i}", source])
    assert new_trusted_rows(con, "jezero", ("lab",), None) == 35
    assert new_trusted_rows(con, "gale", ("lab",), None) == 5
    assert new_trusted_rows(con, "jezero", ("lab",), datetime.now(timezone.utc) + timedelta(hours=1)) == 0
    instance = dg.DagsterInstance.ephemeral()
    now = datetime.now(timezone.utc)
    request = habitat_request(instance, con, "jezero", "1", tmp_path / "models", now)
    assert isinstance(request, dg.RunRequest) and request.partition_key == "jezero"
    assert request.tags["rexai/trigger"] == "habitat_first_adapter" and request.tags["rexai/count_new_rows"] == "35"
    assert habitat_request(instance, con, "gale", "1", tmp_path / "models", now) == "gale: 5 new trusted rows < 30"
    assert habitat_request(instance, con, "jezero", None, tmp_path / "models", now) == "jezero: no shared champion yet"
