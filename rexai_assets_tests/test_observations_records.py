"""Observations: record validation and privacy (plain functions, no Dagster)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from rexai_assets.observations import pii, records
from rexai_assets.recipes import RecipeCatalog

FIXTURES = Path(__file__).parent / "fixtures" / "observations"
SHIPPED_RAW = Path(__file__).resolve().parents[1] / "data" / "raw"
NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)
PII_TEXT = "call ana.perez@habitat.mars or +1 555 0100, ask Ana Pérez"


@pytest.fixture(scope="module")
def catalog() -> RecipeCatalog:
    from rexai_assets.raw.tables import load_raw_tables

    tables = load_raw_tables(SHIPPED_RAW)
    return RecipeCatalog.from_frames(tables.inventory, tables.processes)


def reasons_by_line(result: records.ValidationResult) -> dict[int, str]:
    return {r.line: r.reason for r in result.rejected}


def test_experiment_fixture_good_and_bad_rows(catalog: RecipeCatalog) -> None:
    frame = pd.DataFrame.from_records(json.loads((FIXTURES / "experiments_mixed.json").read_text()))
    result = records.validate_experiments(frame, catalog, "experiments_mixed.json", now=NOW)

    assert result.total_rows == 10
    assert list(result.records["experiment_id"]) == ["E-001", "E-002", "E-010"]
    reasons = reasons_by_line(result)
    assert set(reasons) == {3, 4, 5, 6, 7, 8, 9}
    assert "unknown waste_id 'W999'" in reasons[3]
    assert "sum to 0.9000, not 1" in reasons[4]
    assert "regolith_frac must be in [0, 0.5]" in reasons[5]
    assert "is before started_at" in reasons[6]
    assert "rigidity must be in [0, 1]" in reasons[7]
    assert "verdict must be one of pass, fail, inconclusive" in reasons[8]
    assert "energy_kwh must be >= 0" in reasons[9]
    assert all(r.layer == "observations" and r.source_file == "experiments_mixed.json" for r in result.rejected)
    assert {r.column for r in result.rejected} >= {"recipe_spec", "finished_at", "raw_measurements.rigidity", "verdict"}

    first = result.records.set_index("experiment_id").loc["E-001"]
    assert (first["rigidity"], first["tightness"], first["energy_kwh"]) == (0.62, 0.4, 0.8)
    assert pd.isna(first["water_l"]) and pd.isna(first["crew_min"])
    assert json.loads(first["raw_measurements"])["press_temp_c"] == 150  # free readings are kept
    spec = json.loads(first["recipe_spec"])
    assert spec["recipe_id"] == first["recipe_id"] and spec["process_id"] == first["process_id"] == "P02"
    # +02:00 input is stored as UTC
    tenth = result.records.set_index("experiment_id").loc["E-010"]
    assert tenth["finished_at"] == pd.Timestamp("2024-05-01T09:15:00Z")
    assert result.records.set_index("experiment_id").loc["E-002", ["rigidity", "tightness"]].isna().all()


def test_feedback_fixture_good_and_bad_rows(catalog: RecipeCatalog) -> None:
    frame = pd.read_csv(FIXTURES / "feedback_mixed.csv", dtype=str, keep_default_na=False)
    result = records.validate_feedback(frame, catalog, "feedback_mixed.csv", first_line=2, now=NOW)

    assert list(result.records["feedback_id"]) == ["F-001", "F-002", "F-008"]
    reasons = reasons_by_line(result)
    assert set(reasons) == {4, 5, 6, 7, 8}  # CSV line numbers
    assert "rating must be 1-5" in reasons[4]
    assert "tightness must be in [0, 1]" in reasons[5]
    assert "unknown process_id 'P09'" in reasons[6]
    assert "not an ISO 8601 timestamp" in reasons[7]
    assert "feedback_id is missing" in reasons[8]
    rows = result.records.set_index("feedback_id")
    assert rows.loc["F-001", "rating"] == 5 and rows.loc["F-001", "rigidity"] == 0.7
    assert pd.isna(rows.loc["F-002", "rating"]) and rows.loc["F-002", "crew_min"] == 30.0
    assert rows.loc["F-008", list(records.TARGETS)].isna().all()


def _experiment(**overrides: object) -> dict:
    row = {"experiment_id": "E1", "recipe_id": None, "process_id": None, "environment": "lab",
           "recipe_spec": json.dumps({"items": [{"waste_id": "W003", "mass_frac": 1.0}], "process_id": "P02"}),
           "operator_id": "op", "started_at": "2024-05-01T08:00:00", "finished_at": "2024-05-01T09:00:00",
           "raw_measurements": json.dumps({"rigidity": 0.5}), "verdict": "pass", "next_actions": None}
    row.update(overrides)
    return row


def test_missing_required_column_is_a_format_error(catalog: RecipeCatalog) -> None:
    frame = pd.DataFrame([_experiment()]).drop(columns=["verdict"])
    with pytest.raises(records.RecordFormatError, match="missing column.*verdict"):
        records.validate_experiments(frame, catalog, "x.parquet", now=NOW)


def test_duplicates_within_a_file(catalog: RecipeCatalog) -> None:
    frame = pd.DataFrame([_experiment(), _experiment(), _experiment(verdict="fail")])
    result = records.validate_experiments(frame, catalog, "x.parquet", now=NOW)
    assert len(result.records) == 1 and result.duplicates_identical == 1
    assert [r.line for r in result.rejected] == [3]
    assert "duplicate experiment_id 'E1' with different content (first at row 1)" in result.rejected[0].reason


def test_recipe_columns_must_agree_with_spec_and_ids_must_not_hold_pii(catalog: RecipeCatalog) -> None:
    frame = pd.DataFrame([_experiment(experiment_id="E1", process_id="P03"),
                          _experiment(experiment_id="ana.perez@habitat.mars"),
                          _experiment(experiment_id="E3", finished_at="2030-01-01T00:00:00Z"),
                          _experiment(experiment_id="E4", recipe_id="R-given")])
    result = records.validate_experiments(frame, catalog, "x.parquet", now=NOW)
    reasons = reasons_by_line(result)
    assert "process_id 'P03' disagrees with recipe_spec" in reasons[1]
    assert reasons[2] == "experiment_id contains personal data (email)"
    assert result.rejected[1].value is None  # the log never copies the personal data
    assert "finished_at lies in the future" in reasons[3]
    assert json.loads(result.records.iloc[0]["recipe_spec"])["recipe_id"] == "R-given"


def test_scrubber_removes_emails_phones_and_names() -> None:
    scrubber = pii.default_scrubber()
    scrubbed = scrubber.scrub(PII_TEXT)
    assert scrubbed == "call [EMAIL] or [PHONE], ask [NAME]"
    assert pii.find_pii([scrubbed]) == []
    assert {f.kind for f in pii.find_pii([PII_TEXT])} == {"email", "phone", "name"}
    # accent- and case-insensitive, and across separators
    for text in ("ana perez", "ANA PÉREZ", "Ana  Perez", "ana_pérez", "soren odegard", "Søren Ødegård"):
        assert scrubber.scrub(text) == "[NAME]", text
    assert scrubber.scrub("Anabel Perezoso left") == "Anabel Perezoso left"  # whole words only
    assert scrubber.scrub("ring 555-0100 or (555) 010-0100") == "ring [PHONE] or [PHONE]"
    harmless = "pressed at 150C 5 bar 20min on 2024-05-01, rigidity 0.5536781, readings 120 130 125, EXP-2024-0001"
    assert scrubber.scrub(harmless) == harmless
    nested = scrubber.scrub_json_value({"note": PII_TEXT, "temp": 150, "list": ["Ana Pérez"]})
    assert nested == {"note": "call [EMAIL] or [PHONE], ask [NAME]", "temp": 150, "list": ["[NAME]"]}


def test_find_pii_reports_input_positions() -> None:
    findings = pii.find_pii(["clean", None, 3.5, "mail kwame@base.mars", "Kwame Mensah"])
    assert [(f.index, f.kind) for f in findings] == [(3, "email"), (4, "name")]
    assert pii.find_pii(["call +1 555 0100"], kinds=("email", "name")) == []


def test_pseudonym_is_stable_per_key_and_differs_across_keys() -> None:
    a1 = pii.pseudonymize("OP-ana", b"key-one")
    assert a1 == pii.pseudonymize(" OP-ana ", b"key-one")
    assert a1 != pii.pseudonymize("OP-ana", b"key-two")
    assert a1 != pii.pseudonymize("OP-bob", b"key-one")
    assert a1.startswith("op-") and "ana" not in a1.lower()
    assert pii.pseudonymize(None, b"k") is None


def test_key_from_env_else_created_once_with_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert pii.pii_key(tmp_path / "secrets") == b"test-pii-key"  # conftest sets REXAI_PII_KEY
    assert not (tmp_path / "secrets").exists()
    monkeypatch.delenv("REXAI_PII_KEY")
    key = pii.pii_key(tmp_path / "secrets")
    path = tmp_path / "secrets" / pii.KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert pii.pii_key(tmp_path / "secrets") == key and len(key) == 64
    assert list((tmp_path / "secrets").iterdir()) == [path]  # no temp files left behind


def test_key_creation_is_race_safe_across_processes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REXAI_PII_KEY"}
    code = "import sys; from rexai_assets.observations.pii import pii_key; print(pii_key(sys.argv[1]).decode())"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "secrets")], env=env,
                              stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
             for _ in range(4)]
    keys = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(keys) == 1 and len(keys.pop()) == 64


def test_prepare_for_warehouse_scrubs_and_pseudonymises(catalog: RecipeCatalog) -> None:
    frame = pd.DataFrame([_experiment(operator_id="OP-ana", next_actions=PII_TEXT,
                                      raw_measurements=json.dumps({"rigidity": 0.5, "note": "Ana Pérez"}))])
    valid = records.validate_experiments(frame, catalog, "x.parquet", now=NOW).records
    one = records.prepare_for_warehouse(valid, records.EXPERIMENT, b"k1", pii.default_scrubber())
    two = records.prepare_for_warehouse(valid, records.EXPERIMENT, b"k2", pii.default_scrubber())
    row = one.iloc[0]
    assert row["next_actions"] == "call [EMAIL] or [PHONE], ask [NAME]"
    assert json.loads(row["raw_measurements"]) == {"rigidity": 0.5, "note": "[NAME]"}
    assert row["operator_id"] == pii.pseudonymize("OP-ana", b"k1") != two.iloc[0]["operator_id"]
    assert row["content_sha256"] != two.iloc[0]["content_sha256"]
    measured = records.measurement_rows(one, records.EXPERIMENT)
    assert list(measured["observation_id"]) == ["E1"] and measured.iloc[0]["label_source"] == "lab"
