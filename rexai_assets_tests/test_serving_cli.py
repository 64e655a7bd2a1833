"""`rexai predict`, `rexai recommend`, `rexai verify-bundle`: output formats and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rexai_assets.cli import main
from rexai_assets.gold.contract import TARGETS
from rexai_assets.models import scorer as scorer_module
from rexai_assets.models.testing import small_ensemble, small_gold

SHIPPED_RAW = Path(__file__).resolve().parents[1] / "data" / "raw"

RECIPES = [
    {"items": [{"waste_id": "W003", "mass_frac": 0.6}, {"waste_id": "W011", "mass_frac": 0.4}], "process_id": "P02",
     "regolith_frac": 0.0},
    {"recipe_id": "foam-sinter", "items": [{"waste_id": "W001", "mass_frac": 1.0}], "process_id": "P03",
     "regolith_frac": 0.2},
]


@pytest.fixture(scope="module")
def model():
    from rexai_assets.raw.tables import load_raw_tables

    return small_ensemble(small_gold(load_raw_tables(SHIPPED_RAW), size=300), autoencoder=False)


@pytest.fixture
def champion(model, monkeypatch):
    """The champion resolved at call time is this small model (version 4)."""
    monkeypatch.setattr(scorer_module, "load_scorer", lambda mlflow=None, alias="champion": scorer_module.ensemble_scorer(model, "4"))
    return model


def write(tmp_path: Path, data) -> Path:
    path = tmp_path / "recipes.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_predict_json_without_champion_is_heuristic(tmp_path, capsys):
    assert main(["predict", str(write(tmp_path, RECIPES)), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [set(e) for e in out] == [{"recipe_id", "model_version", "source", "prediction", "calibrated_on"}] * 2
    assert all(e["calibrated_on"] == {t: "uncalibrated" for t in TARGETS} for e in out)
    assert out[1]["recipe_id"] == "foam-sinter" and out[0]["recipe_id"].startswith("R-")
    assert all(e["source"] == "heuristic" and e["model_version"] is None for e in out)
    for entry in out:
        assert set(entry["prediction"]) == set(TARGETS)
        for value in entry["prediction"].values():
            assert set(value) == {"value", "lo", "hi"} and value["lo"] <= value["value"] <= value["hi"]
    assert main(["predict", str(write(tmp_path, RECIPES))]) == 0
    text = capsys.readouterr().out
    assert ("intervals calibrated on: uncalibrated (rigidity, tightness, energy_kwh, water_l, crew_min) — a fixed "
            "heuristic band, not calibrated on any data\n") in text


def test_predict_json_from_champion(tmp_path, capsys, champion):
    assert main(["predict", str(write(tmp_path, RECIPES)), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {(e["source"], e["model_version"]) for e in out} == {("model", "4")}
    recorded = champion.metadata.get("calibrated_on")
    # "calibrated_on" where the model records it, left out for a model that predates it.
    assert all(e.get("calibrated_on") == (None if recorded is None else dict(recorded)) for e in out)


CALIBRATED_ON = {"rigidity": "measured", "tightness": "measured", "energy_kwh": "simulated", "water_l": "simulated",
                 "crew_min": "simulated"}


@pytest.fixture
def calibrated_champion(model, monkeypatch):
    """A champion (version 6) whose metadata records measured and simulation-only calibration."""
    import dataclasses

    recorded = dataclasses.replace(model, metadata={**model.metadata, "calibrated_on": CALIBRATED_ON})
    monkeypatch.setattr(scorer_module, "load_scorer",
                        lambda mlflow=None, alias="champion": scorer_module.ensemble_scorer(recorded, "6"))
    return recorded


SIMULATION_WARNING = ("intervals calibrated on: measured (rigidity, tightness); simulated (energy_kwh, water_l, "
                      "crew_min) — calibrated on simulation only for: energy_kwh, water_l, crew_min; intervals "
                      "include the simulator-to-reality allowance\n")


def test_predict_reports_calibration_source(tmp_path, capsys, calibrated_champion):
    assert main(["predict", str(write(tmp_path, RECIPES)), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [e["calibrated_on"] for e in out] == [CALIBRATED_ON] * 2
    assert {(e["source"], e["model_version"]) for e in out} == {("model", "6")}
    assert main(["predict", str(write(tmp_path, RECIPES))]) == 0
    text = capsys.readouterr().out
    assert text.startswith("source: model v6\n" + SIMULATION_WARNING)


def test_recommend_reports_p_meets_and_calibration_source(capsys, calibrated_champion, config_override):
    config_override("serving.yaml", {"recommendations": {"candidates": 600}})
    assert main(["recommend", "--target", "Container", "--top", "5", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["calibrated_on"] == CALIBRATED_ON and doc["coverage_target"] == 0.95
    rows = doc["recommendations"]
    assert rows and all(0.0 <= r["p_meets"] <= 1.0 and isinstance(r["interval_meets"], bool) for r in rows)
    keys = [(not r["interval_meets"], -int(r["p_meets"] * 100 + 1e-6), r["resource_load"]) for r in rows]
    assert keys == sorted(keys)
    for r in rows:
        pred, target = r["prediction"], doc["target"]
        meets = (pred["rigidity"]["lo"] >= target["rigidity"] and pred["tightness"]["lo"] >= target["tightness"]
                 and pred["energy_kwh"]["hi"] <= target["max_energy_kwh"] and pred["water_l"]["hi"] <= target["max_water_l"]
                 and pred["crew_min"]["hi"] <= target["max_crew_min"])
        assert r["interval_meets"] == meets
    assert main(["recommend", "--target", "Container", "--top", "2"]) == 0
    text = capsys.readouterr().out
    assert SIMULATION_WARNING in text and "  1. R-" in text and "p_meets " in text


@pytest.mark.parametrize("data, reason", [
    ([RECIPES[0], {"items": [{"waste_id": "W999", "mass_frac": 1}], "process_id": "P02"}], "recipe 1: unknown waste_id 'W999'"),
    ([{"recipe_id": "x", "items": [{"waste_id": "W001", "mass_frac": 0.5}], "process_id": "P02"}], "recipe 0 (x): waste mass fractions sum to 0.5000"),
    ([RECIPES[0], RECIPES[1], {"items": [{"waste_id": "W001", "mass_frac": 1}], "process_id": "P09"}], "recipe 2: unknown process_id 'P09'"),
    ("{not json", "not valid JSON"),
    ({"items": []}, "expected a JSON list of recipes"),
])
def test_predict_malformed_recipe_is_one_line(tmp_path, capsys, champion, data, reason):
    assert main(["predict", str(write(tmp_path, data))]) == 1
    err = capsys.readouterr().err
    assert reason in err and err.count("\n") == 1 and err.startswith("rexai predict: ")


def test_predict_refuses_feature_order_mismatch(tmp_path, capsys, model, monkeypatch):
    import dataclasses

    reversed_model = dataclasses.replace(model, feature_names=tuple(reversed(model.feature_names)))
    monkeypatch.setattr(scorer_module, "load_scorer",
                        lambda mlflow=None, alias="champion": scorer_module.ensemble_scorer(reversed_model, "5"))
    assert main(["predict", str(write(tmp_path, RECIPES)), "--json"]) == 1
    assert "feature names/order differ" in capsys.readouterr().err


def test_recommend_json_and_text(capsys, champion, config_override):
    config_override("serving.yaml", {"recommendations": {"candidates": 1200}})
    assert main(["recommend", "--target", "Interior", "--top", "4", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["source"] == "model" and doc["model_version"] == "4" and doc["target"]["name"] == "Interior"
    assert [r["rank"] for r in doc["recommendations"]] == [1, 2, 3, 4]
    assert doc["counts"]["scored"] == 1200
    for rec in doc["recommendations"]:
        assert set(rec["prediction"]) == set(TARGETS) and rec["drivers"]
        assert rec["prediction"]["energy_kwh"]["lo"] <= doc["target"]["max_energy_kwh"]
        assert 0.0 <= rec["p_meets"] <= 1.0 and isinstance(rec["interval_meets"], bool)
    recorded = champion.metadata.get("calibrated_on")
    assert doc["calibrated_on"] == (None if recorded is None else dict(recorded))
    assert main(["recommend", "--target", "Interior", "--top", "2"]) == 0
    text = capsys.readouterr().out
    assert "model v4" in text and " 2. R-" in text and " 3. " not in text
    assert "\nintervals calibrated on: " in text


def test_recommend_unknown_target(capsys):
    assert main(["recommend", "--target", "Spaceship"]) == 1
    err = capsys.readouterr().err
    assert err == "rexai recommend: unknown target 'Spaceship'; valid targets: Container, Utensil, Interior, Tool\n"


def test_verify_bundle_command(tmp_path, capsys, model):
    from rexai_assets.serving import bundle as bd

    model_dir = tmp_path / "model"
    model.save(model_dir)
    replay = bd.replay_document(model, bd.select_replay(small_gold_for_replay(), bd.ReplaySettings(golden_rows=3)),
                                bd.ReplaySettings())
    result = bd.write_bundle(tmp_path, bd.build_bundle_bytes(model_dir, "4", "rexai", replay, {}), "4")
    assert main(["verify-bundle", str(result.path)]) == 0
    assert "OK (v4" in capsys.readouterr().out
    damaged = tmp_path / "damaged.zip"
    data = bytearray(result.path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    damaged.write_bytes(bytes(data))
    assert main(["verify-bundle", str(damaged)]) == 1
    assert capsys.readouterr().err.startswith("rexai verify-bundle: damaged.zip: ")
    assert main(["verify-bundle", str(tmp_path / "nope.zip")]) == 1


def small_gold_for_replay():
    from rexai_assets.raw.tables import load_raw_tables

    return small_gold(load_raw_tables(SHIPPED_RAW), size=200)


def test_serving_commands_leave_the_collector_as_they_found_it(tmp_path, capsys, champion):
    """`StartUp` turns collection off while a command starts and freezes its start-up objects;
    an in-process call must give both back, whether the command succeeds or fails."""
    import gc

    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert main(["predict", str(write(tmp_path, RECIPES)), "--json"]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert main(["recommend", "--target", "Spaceship"]) == 1
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        assert main(["predict", str(write(tmp_path, RECIPES))]) == 0
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()
    capsys.readouterr()


def test_serving_commands_do_not_import_dagster(tmp_path):
    """`rexai recommend` / `rexai predict` resolve the champion in the MLflow registry without loading
    Dagster (half a second of start-up); the console script exits with the command's code."""
    import subprocess
    import sys

    recipes = write(tmp_path, RECIPES)
    code = ("import sys; from rexai_assets.cli import main; "
            f"rc = main(['predict', {str(recipes)!r}, '--json']); "
            "print(rc, 'dagster' in sys.modules, 'mlflow' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stderr.strip().splitlines()[-1] == "0 False True", done.stderr
    assert json.loads(done.stdout)[0]["source"] == "heuristic"

    done = subprocess.run([sys.executable, "-m", "rexai_assets.cli", "recommend", "--target", "Spaceship"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and done.stderr.startswith("rexai recommend: unknown target 'Spaceship'")


@pytest.mark.parametrize("command", [["predict", "RECIPES", "--json"], ["status"]])
def test_console_script_exits_quietly(tmp_path, command):
    """Only the one-shot serving commands skip the collector's last pass at exit; a command that
    opened DuckDB (nanobind) must shut down normally, or DuckDB prints a leak report on stderr."""
    import subprocess
    import sys

    argv = [str(write(tmp_path, RECIPES)) if part == "RECIPES" else part for part in command]
    done = subprocess.run([sys.executable, "-m", "rexai_assets.cli", *argv], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "leak" not in done.stderr and "nanobind" not in done.stderr, done.stderr
