"""`rexai status` on one screen: the champion, its error and coverage on measured data per target, pending
proposals, the last retrain and why, the PII path and the open plan; the full metrics behind --verbose / --json."""

from __future__ import annotations

import json

import pytest

from rexai_assets.cli import main as rexai
from rexai_assets.cli import status as st
from rexai_assets.evaluation import promotion
from rexai_assets.gold.contract import TARGETS
from rexai_assets.paths import layout
from rexai_assets.resources import build_resources

from rexai_assets_tests.test_evaluation_promotion import make_proposal

OLD_JSON_KEYS = {"champion", "pending_proposals", "last_retrain", "pii_path"}
OLD_CHAMPION_KEYS = {"version", "created", "tags", "metrics", "lineage", "trained_on", "calibrated_on"}


@pytest.fixture
def production(tmp_path):
    """Champion v1 with its training metrics (measured golden rows for all targets but crew time), eight pending proposals."""
    import mlflow as mlflow_module

    resources = build_resources()
    mlflow = resources["mlflow"]
    client = mlflow.client()
    client.create_registered_model("rexai")
    metrics = {f"ensemble.golden_measured.{t}.{k}": v for t in TARGETS[:-1] for k, v in
               (("mae", 0.0421), ("coverage", 0.947), ("n", 38), ("rmse", 0.05))}
    metrics.update({f"ensemble.golden_simulated.{t}.{k}": v for t in TARGETS for k, v in
                    (("mae", 0.0123), ("coverage", 0.96), ("n", 120))})
    with mlflow.start_run("status", tags={"trained_on": "lab+simulated", "dataset_hash": "d" * 64}) as run:
        mlflow_module.log_metrics(metrics)
    (tmp_path / "artefact").mkdir()
    for _ in range(9):
        client.create_model_version("rexai", source=str(tmp_path / "artefact"), run_id=run.info.run_id,
                                    tags={"calibrated_on": json.dumps({t: "measured" for t in TARGETS})})
    (layout().models / "1").mkdir(parents=True)
    (layout().models / "1" / "metadata.json").write_text(json.dumps({"rows": {"train": 2400, "golden": 300}}))
    desk = promotion.desk_from_resources(resources)
    desk.record(make_proposal("PROMOTE", "1", None), mode="auto")
    for version in range(2, 10):
        desk.record(make_proposal("REVIEW", str(version), "1"), mode="auto")
    return desk


def test_status_fits_on_one_screen(production, capsys, monkeypatch):
    from rexai_assets.cli import planning

    monkeypatch.setattr(planning, "open_plan_status", lambda: {"plan_id": "PLAN-7", "model_version": "1",
                                                               "planned": 12, "measured": 5})
    assert rexai(["status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) < 25, "\n".join(lines)
    assert lines[0].startswith("champion: v1 trained ") and lines[0].endswith("on lab+simulated, 2400 training rows")
    assert lines[1].startswith("  intervals calibrated on: measured")
    table = {line.split()[0]: line.split()[1:] for line in lines[3:3 + len(TARGETS)]}
    assert table["rigidity"] == ["0.0421", "0.947", "38", "measured"]
    assert table["crew_min"] == ["0.0123", "0.960", "120", "simulated"]  # no measured golden row: said so
    assert "pending proposals: 8" in lines and "  … 3 more (rexai proposals --pending)" in lines
    assert any(line.startswith("last retrain: none") for line in lines)
    assert any(line.startswith("pii path: ") for line in lines)
    assert lines[-1] == "open plan: PLAN-7 (model v1): 5 of 12 experiments measured (rexai plan-experiments --json)"
    assert not any("dataset_hash" in line or "ensemble.golden" in line for line in lines)


def test_verbose_and_json_keep_everything(production, capsys):
    assert rexai(["status", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "dataset_hash: " + "d" * 64 in out and "ensemble.golden_measured.rigidity.rmse: 0.05" in out
    assert out.count("REVIEW") == 8
    assert rexai(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert OLD_JSON_KEYS <= set(status) and OLD_CHAMPION_KEYS <= set(status["champion"])
    assert len(status["pending_proposals"]) == 8 and status["open_plan"] is None  # no plan yet
    assert status["champion"]["measured"]["water_l"] == {"slice": "measured", "n": 38, "mae": 0.0421, "coverage": 0.947}
    assert status["champion"]["rows"] == {"train": 2400, "golden": 300}


def test_retrain_line_says_why():
    line = st.retrain_line({"run_id": "abcdef123456", "status": "SUCCESS", "started": "2026-12-03 10:00:01.5+00:00",
                            "trigger": "new_observations", "reason": "60 new labelled rows >= 40", "counts": {}})
    assert line == ("last retrain: 2026-12-03 10:00 SUCCESS (run abcdef12), trigger new_observations: "
                    "60 new labelled rows >= 40")
