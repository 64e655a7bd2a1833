"""The prediction ledger and the learning history as plain functions."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd

from rexai_assets.contract import TARGETS
from rexai_assets.evaluation import history as hs
from rexai_assets.evaluation import ledger as lg
from rexai_assets.recipes import spec_identity

T = pd.Timestamp
NOW = datetime(2026, 3, 1)
SPEC_A = json.dumps({"items": [{"waste_id": "W001", "mass_frac": 1.0}], "process_id": "P03", "regolith_frac": 0.2})
SPEC_B = json.dumps({"items": [{"waste_id": "W003", "mass_frac": 1.0}], "process_id": "P02", "regolith_frac": 0.0})
KEY_A, KEY_B = spec_identity(SPEC_A)[0], spec_identity(SPEC_B)[0]


def audit() -> pd.DataFrame:
    return pd.DataFrame({"action": ["auto_promote", "approve", "decline", "rollback_to"],
                         "model_version": ["1", "2", "3", "1"],
                         "created_at": [T("2026-01-01"), T("2026-01-10"), T("2026-01-15"), T("2026-01-20")]})


def test_champion_periods_follow_promotions_and_rollbacks_not_declines():
    periods = lg.champion_periods(audit())
    assert periods["version"].tolist() == ["1", "2", "1"]
    assert periods["from"].tolist() == [T("2026-01-01"), T("2026-01-10"), T("2026-01-20")]
    assert periods["to"].tolist()[:2] == [T("2026-01-10"), T("2026-01-20")] and pd.isna(periods["to"].iloc[2])
    when = pd.Series([T("2025-12-31"), T("2026-01-05"), T("2026-01-16"), T("2026-02-01")])
    assert lg.champion_at(periods, when) == [None, "1", "2", "1"]


def observation(oid: str, spec: str, when: str, **targets: float) -> dict:
    return {"observation_id": oid, "kind": "experiment", "recipe_id": "x", "recipe_spec": spec,
            "recipe_key": spec_identity(spec)[0], "label_source": "lab", "observed_at": T(when),
            **{t: targets.get(t, np.nan) for t in TARGETS}, "environment": "lab", "verdict": "pass", "habitat": None}


def log_entry(entry: str, key: str, version: str | None, when: str, value: float, adapter: str | None = None) -> dict:
    return {"entry_id": entry, "recipe_key": key, "model_version": version, "logged_at": T(when),
            **{f"{t}{s}": value + d for t in TARGETS for s, d in (("", 0.0), ("_lo", -0.1), ("_hi", 0.1))},
            "habitat": None if adapter is None else "jezero", "adapter_version": adapter}


class FakePredictor:
    def __init__(self):
        self.calls = []

    def __call__(self, version, specs):
        self.calls.append((version, len(specs)))
        if version == "9":
            return None
        value = np.full(len(specs), 0.3)
        return {t: {"value": value, "lo": value - 0.05, "hi": value + 0.05} for t in TARGETS}


def test_served_prediction_of_the_champion_of_that_moment_else_computed():
    obs = pd.DataFrame([observation("E1", SPEC_A, "2026-01-12", rigidity=0.45),     # v2 serves; v2 logged before
                        observation("E2", SPEC_B, "2026-01-12", rigidity=0.2, crew_min=4.0),  # logged only after
                        observation("E3", SPEC_A, "2025-12-01", tightness=0.9)])     # no champion yet: heuristic
    log = pd.DataFrame([log_entry("old", KEY_A, "2", "2026-01-11", 0.4), log_entry("new", KEY_A, "2", "2026-01-11T12", 0.5),
                        log_entry("other-version", KEY_A, "1", "2026-01-11T18", 0.9),
                        log_entry("adapted", KEY_A, "2", "2026-01-11T20", 0.7, adapter="4"),  # jezero's adapter on v2
                        log_entry("late", KEY_B, "2", "2026-01-13", 0.9)])
    predict = FakePredictor()
    rows = lg.ledger_rows(lg.long_measurements(obs), log, lg.champion_periods(audit()), predict, NOW)
    by = rows.set_index(["observation_id", "target"])
    assert set(by.index) == {("E1", "rigidity"), ("E2", "rigidity"), ("E2", "crew_min"), ("E3", "tightness")}
    e1 = by.loc[("E1", "rigidity")]
    assert (e1["prediction_source"], e1["inference_entry_id"], e1["model_version"]) == ("inference_log", "new", "2")
    assert (e1["predicted"], e1["predicted_lo"], e1["predicted_hi"]) == (0.5, 0.4, 0.6)
    assert np.isclose(e1["error"], 0.05) and e1["inside_interval"]
    e2 = by.loc[("E2", "crew_min")]
    assert (e2["prediction_source"], e2["model_version"], e2["predicted"]) == ("computed_at_ingestion", "2", 0.3)
    assert not e2["inside_interval"] and np.isclose(e2["error"], 0.3 - 4.0)
    e3 = by.loc[("E3", "tightness")]
    assert (e3["model_version"], e3["model_source"], e3["prediction_source"]) == (None, "heuristic", "computed_at_ingestion")
    assert sorted(predict.calls, key=str) == sorted([("2", 1), (None, 1)], key=str)   # one batch per version
    assert list(rows.columns) == list(lg.COLUMNS)


def test_only_new_or_changed_measurements_are_pending_and_unpredictable_ones_stay_pending():
    obs = pd.DataFrame([observation("E1", SPEC_A, "2026-01-12", rigidity=0.45, tightness=0.5)])
    long = lg.long_measurements(obs)
    ledger = pd.DataFrame({"observation_id": ["E1", "E1"], "target": ["rigidity", "tightness"], "measured": [0.45, 0.4]})
    assert lg.pending(long, ledger)[["observation_id", "target"]].values.tolist() == [["E1", "tightness"]]
    periods = pd.DataFrame({"version": ["9"], "from": [T("2026-01-01")], "to": [pd.NaT]})
    assert lg.ledger_rows(long, pd.DataFrame(), periods, FakePredictor(), NOW).empty


def ledger_frame() -> pd.DataFrame:
    rows = []
    for i, (version, when, source, verdict, error) in enumerate([
            ("1", "2026-01-05", "lab", "pass", 0.2), ("1", "2026-01-06", "lab", "fail", 0.4),
            ("1", "2026-01-07", "crew_feedback", None, 5.0), ("1", "2026-01-08", "lab", "inconclusive", 5.0),
            ("2", "2026-01-12", "iss_sim", "pass", 0.1), ("1", "2026-01-25", "lab", "pass", 0.3)]):
        rows.append({"observation_id": f"O{i}", "target": "rigidity", "model_version": version, "observed_at": T(when),
                     "label_source": source, "verdict": verdict, "error": error, "predicted": 0.5 + error,
                     "predicted_lo": 0.4, "predicted_hi": 0.8, "measured": 0.5, "inside_interval": error < 0.25})
    return pd.DataFrame(rows)


def proposals() -> pd.DataFrame:
    return pd.DataFrame([
        {"proposal_id": "PR-2", "created_at": T("2026-01-10"), "trigger": "new_observations", "challenger_version": "2",
         "champion_version": "1", "recommendation": "PROMOTE", "status": "PROMOTED",
         "criteria": json.dumps([{"passed": True, "detail": "ok"}])},
        {"proposal_id": "PR-3", "created_at": T("2026-01-14"), "trigger": "champion_age", "challenger_version": "3",
         "champion_version": "2", "recommendation": "REJECT", "status": "REJECTED",
         "criteria": json.dumps([{"passed": False, "detail": "rigidity: regression"}, {"passed": False, "detail": "x"}])}])


def test_history_is_prospective_trusted_and_per_period():
    document = hs.history_document(ledger_frame(), lg.champion_periods(audit()), proposals(),
                                   ("lab", "iss_sim", "analog_field"), {"pass": 1, "fail": 1, "inconclusive": 0})
    assert set(document) == {"versions", "retrains"}
    first, second, third = document["versions"]
    assert (first["version"], first["from"], first["to"]) == ("1", "2026-01-01T00:00:00", "2026-01-10T00:00:00")
    # crew feedback (untrusted) and the inconclusive run are left out; pass and fail count
    assert first["targets"]["rigidity"] == {"mae": 0.30000000000000004, "coverage": 0.5, "n": 2}
    assert first["targets"]["crew_min"] == {"mae": None, "coverage": None, "n": 0}
    assert second["targets"]["rigidity"] == {"mae": 0.1, "coverage": 1.0, "n": 1}
    assert (third["version"], third["to"], third["targets"]["rigidity"]["n"]) == ("1", None, 1)
    assert [(r["proposal_id"], r["trigger"], r["recommendation"], r["failed"], r["failed_count"])
            for r in document["retrains"]] == [("PR-2", "new_observations", "PROMOTE", None, 0),
                                               ("PR-3", "champion_age", "REJECT", "rigidity: regression", 2)]
    text = hs.history_text(document)
    assert "v1: champion from 2026-01-01T00:00:00 to 2026-01-10T00:00:00" in text
    assert "rigidity   mae 0.3, coverage 50% (n=2)" in text and "(+1 more)" in text


def test_history_plots_are_png():
    document = hs.history_document(ledger_frame(), lg.champion_periods(audit()), proposals(), ("lab",), {})
    rows = hs.scored_rows(ledger_frame(), ("lab",), {})
    for png in (hs.error_over_time_png(document), hs.predicted_vs_measured_png(rows, "1"), hs.coverage_png(document)):
        assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_history_command_on_an_empty_root(capsys):
    from rexai_assets.cli import main

    assert main(["history", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"versions": [], "retrains": []}
    assert main(["history"]) == 0
    assert capsys.readouterr().out.strip() == "no champion yet"


def test_update_ledger_against_the_warehouse_is_incremental(tmp_path):
    """Ingested experiments, a compacted log entry and a promotion: one inference_log row, one computed, then nothing new."""
    import duckdb

    from rexai_assets import inference_log
    from rexai_assets.evaluation import promotion
    from rexai_assets.observations import ingest
    from rexai_assets.paths import layout
    from rexai_assets.raw.tables import load_raw_tables
    from rexai_assets.recipes import RecipeCatalog
    from rexai_assets_tests.test_observations_ingest import NOW as INGESTED, drop_file, experiment

    data = layout().ensure()
    tables = load_raw_tables(data.raw)
    other = json.dumps({"items": [{"waste_id": "W001", "mass_frac": 1.0}], "process_id": "P03", "regolith_frac": 0.2})
    drop_file(data.experiments_inbox, "experiments_20240501_a.parquet", [
        experiment("E1", finished="2024-05-01T09:00:00Z", rigidity=0.5),
        experiment("E2", finished="2024-05-01T10:00:00Z", rigidity=0.7, recipe_spec=other)])
    spec = json.loads(experiment("E1")["recipe_spec"])
    with duckdb.connect(str(data.warehouse)) as con:
        promotion.ensure_tables(con)
        con.execute("INSERT INTO registry.approval_audit_log VALUES ('a1', '2024-04-01', 'auto_promote', '7', 'PR', "
                    "'policy:auto', NULL, NULL)")
    served = [inference_log.served_from_spec(dict(spec, regolith_frac=0.0), {"rigidity": {"value": 0.45, "lo": 0.4,
                                                                                          "hi": 0.6}})]
    identity = {"model_source": "model", "model_version": "7"}
    for when, command in ((datetime(2024, 4, 30), "recommend"), (datetime(2024, 5, 2), "predict")):   # before, after
        inference_log.write_entries(data.inference_log, inference_log.entries(command, identity, served, None, 1.0, when))
    ingest.ingest_experiment_day(data, "2024-05-01", ingest.duckdb_connect(data.warehouse),
                                 RecipeCatalog.from_frames(tables.inventory, tables.processes), now=INGESTED)
    predict = FakePredictor()
    with duckdb.connect(str(data.warehouse)) as con:
        first = lg.update_ledger(con, predict, NOW)
        ledger = lg.read_ledger(con).set_index("observation_id")
        matched = con.execute("SELECT command FROM registry.inference_log WHERE entry_id = ?",
                              [ledger.at["E1", "inference_entry_id"]]).fetchone()
        again = lg.update_ledger(con, predict, NOW)
    assert (first.added, first.from_inference_log, first.computed, first.total) == (2, 1, 1, 2)
    assert (ledger.at["E1", "prediction_source"], ledger.at["E1", "predicted"]) == ("inference_log", 0.45)
    assert matched == ("recommend",) and ledger.at["E1", "inside_interval"]   # the entry logged before, not after
    assert (ledger.at["E2", "prediction_source"], ledger.at["E2", "model_version"]) == ("computed_at_ingestion", "7")
    assert ledger.at["E1", "environment"] == "lab" and ledger.at["E1", "verdict"] == "pass"
    assert (again.added, again.total) == (0, 2) and predict.calls == [("7", 1)]
