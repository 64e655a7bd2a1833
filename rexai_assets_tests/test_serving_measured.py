"""Measured results are served: the snapshot the ingestion writes, `predict` / `recommend` showing it, and a
recipe that trusted measurements show to miss the preset never ranking first."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd

from rexai_assets.observations import ingest
from rexai_assets.observations import measured as om
from rexai_assets.paths import layout
from rexai_assets.serving import measured as sm
from rexai_assets.serving import recommend as rc
from rexai_assets_tests.test_observations_ingest import NOW, drop_file, experiment

SPEC = {"items": [{"waste_id": "W003", "mass_frac": 0.6}, {"waste_id": "W011", "mass_frac": 0.4}], "process_id": "P02"}
VERDICT_WEIGHTS = {"pass": 1.0, "fail": 1.0, "inconclusive": 0.0}


def rows() -> pd.DataFrame:
    spec = json.dumps(dict(SPEC, regolith_frac=0.0))
    other_id = json.dumps(dict(SPEC, regolith_frac=0.0, recipe_id="lab-name"))   # same content, another id
    return pd.DataFrame([
        {"recipe_spec": spec, "label_source": "lab", "verdict": "pass", "rigidity": 0.4, "crew_min": 3.0},
        {"recipe_spec": other_id, "label_source": "iss_sim", "verdict": "fail", "rigidity": 0.6, "crew_min": None},
        {"recipe_spec": spec, "label_source": "lab", "verdict": "inconclusive", "rigidity": 0.0, "crew_min": None},
        {"recipe_spec": spec, "label_source": "crew_feedback", "verdict": None, "rigidity": 1.0, "crew_min": 9.0},
    ]).reindex(columns=["recipe_spec", "label_source", "verdict", *sm.TARGETS])


def test_trusted_means_by_content_without_inconclusive_runs_or_crew_feedback():
    snapshot = om.summarise(rows())
    assert list(snapshot.columns) == list(om.COLUMNS) and len(snapshot) == 4
    served = sm.summarise(snapshot, ("lab", "iss_sim", "analog_field"), VERDICT_WEIGHTS)
    (key, measured), = served.items()
    assert key.startswith("R-")
    assert measured == {"rigidity": {"value": 0.5, "n": 2}, "crew_min": {"value": 3.0, "n": 1}}
    counted = sm.summarise(snapshot, ("lab", "iss_sim"), dict(VERDICT_WEIGHTS, inconclusive=1.0))
    assert counted[key]["rigidity"] == {"value": 1.0 / 3, "n": 3}


def test_misses_preset_only_on_measured_targets():
    preset = rc.Preset("Container", rigidity=0.5, tightness=0.6, max_water_l=1.0, max_energy_kwh=2.0, max_crew_min=5.0)
    assert not sm.misses_preset(None, preset) and not sm.misses_preset({}, preset)
    assert sm.misses_preset({"rigidity": {"value": 0.49, "n": 1}}, preset)
    assert sm.misses_preset({"crew_min": {"value": 5.1, "n": 3}}, preset)
    assert not sm.misses_preset({"rigidity": {"value": 0.5, "n": 1}, "crew_min": {"value": 5.0, "n": 1}}, preset)


def test_a_measured_miss_drops_behind_every_other_recipe():
    from rexai_assets.gold.features import feature_context
    from rexai_assets.raw.tables import load_raw_tables
    from rexai_assets.models.scorer import heuristic_scorer

    tables = load_raw_tables(layout().ensure().raw)
    cfg = rc.RecommendationSettings(candidates=400, top_n=5)
    ctx = feature_context(tables)
    plain = rc.recommend(tables, "Container", heuristic_scorer(), cfg, ctx=ctx)
    first, second = plain.ranked["recipe_id"].iloc[:2]
    miss = {first: {"rigidity": {"value": 0.0, "n": 2}}}
    demoted = rc.recommend(tables, "Container", heuristic_scorer(), cfg, ctx=ctx, measured=miss)
    assert demoted.ranked["recipe_id"].iloc[0] == second and first not in set(demoted.ranked["recipe_id"])
    everything = rc.recommend(tables, "Container", heuristic_scorer(), cfg, top_n=plain.counts["feasible"], ctx=ctx,
                              measured=miss)
    assert everything.ranked["recipe_id"].iloc[-1] == first
    assert everything.to_dict()["recommendations"][-1]["measured"] == miss[first]
    meets = {second: {"rigidity": {"value": 0.99, "n": 1}}}   # a measurement that meets the preset changes nothing
    kept = rc.recommend(tables, "Container", heuristic_scorer(), cfg, ctx=ctx, measured=meets)
    assert kept.ranked["recipe_id"].tolist() == plain.ranked["recipe_id"].tolist()
    assert "measured" not in kept.to_dict()["recommendations"][0] and kept.to_dict()["recommendations"][1]["measured"]


def test_ingestion_serves_measurements_at_once(tmp_path, capsys):
    """An ingested lab result shows in `rexai predict --json` without a retrain; the inconclusive one does not count."""
    from rexai_assets.cli import main
    from rexai_assets.raw.tables import load_raw_tables
    from rexai_assets.recipes import RecipeCatalog

    data = layout().ensure()
    tables = load_raw_tables(data.raw)
    drop_file(data.experiments_inbox, "experiments_20240501_a.parquet", [
        experiment("E1", rigidity=0.3), experiment("E2", rigidity=0.5), experiment("E3", rigidity=0.9, verdict="inconclusive")])
    recipes = tmp_path / "r.json"
    recipes.write_text(json.dumps([dict(SPEC, regolith_frac=0.0, recipe_id="my-name"), dict(SPEC, regolith_frac=0.1)]))
    assert main(["predict", str(recipes), "--json"]) == 0
    assert all("measured" not in e for e in json.loads(capsys.readouterr().out))
    ingest.ingest_experiment_day(data, "2024-05-01", ingest.duckdb_connect(data.warehouse),
                                 RecipeCatalog.from_frames(tables.inventory, tables.processes), now=NOW)
    assert main(["predict", str(recipes), "--json"]) == 0
    first, second = json.loads(capsys.readouterr().out)
    assert first["measured"] == {"rigidity": {"value": 0.4, "n": 2}} and "measured" not in second
    assert np.isclose(first["measured"]["rigidity"]["value"], 0.4)
    assert main(["predict", str(recipes)]) == 0
    assert "    measured (trusted): rigidity 0.4 (n=2)" in capsys.readouterr().out.splitlines()
    with duckdb.connect(str(data.warehouse), read_only=True) as con:   # the predict calls reached the warehouse
        assert con.execute("SELECT count(*) FROM registry.inference_log").fetchone()[0] == 2
