"""Recommendations: Pareto front, caps, inventory mass, vectorised scoring, preset partitions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dagster as dg

from rexai_assets.raw.tables import load_raw_tables
from rexai_assets.serving import recommend as rc
from rexai_assets.serving.assets import PRESET_PARTITIONS, preset_names, preset_partition_changes, sync_preset_partitions
from rexai_assets.serving.scorer import ensemble_scorer, heuristic_scorer
from rexai_assets.serving.testing import small_ensemble, small_gold

SHIPPED_RAW = Path(__file__).resolve().parents[1] / "data" / "raw"


@pytest.fixture(scope="module")
def tables():
    return load_raw_tables(SHIPPED_RAW)


@pytest.fixture(scope="module")
def model_scorer(tables):
    gold = small_gold(tables, size=400)
    return ensemble_scorer(small_ensemble(gold, autoencoder=False), "7")


def small_cfg(**update) -> rc.RecommendationSettings:
    return rc.RecommendationSettings(**{"candidates": 1500, "top_n": 5, **update})


def test_pareto_front_on_a_hand_made_set():
    points = np.array([
        [0.0, 3.0],   # 0 front
        [1.0, 1.0],   # 1 front
        [3.0, 0.0],   # 2 front
        [2.0, 2.0],   # 3 dominated by 1
        [1.0, 1.0],   # 4 duplicate of 1: only the first is kept
        [1.0, 3.0],   # 5 dominated by 0 (equal second, worse first) and by 1
        [0.5, 2.0],   # 6 front (between 0 and 1)
    ])
    assert np.flatnonzero(rc.pareto_mask(points)).tolist() == [0, 1, 2, 6]
    assert rc.pareto_mask(np.zeros((0, 3))).tolist() == []


def test_vectorised_scores_equal_row_by_row(tables, model_scorer):
    from rexai_assets.gold.features import feature_context

    ctx = feature_context(tables)
    cands = rc.sample_candidates(ctx, tables.inventory, 40, seed=3, batch_kg=50.0)
    for scorer in (model_scorer, heuristic_scorer()):
        batch = scorer.predict(cands.X)
        for i in range(len(cands)):
            single = scorer.predict(cands.X[i:i + 1])
            for target in scorer.target_names:
                for key in ("value", "lo", "hi"):
                    assert single[target][key][0] == pytest.approx(batch[target][key][i], rel=1e-12, abs=1e-12)


def test_candidates_fit_the_inventory_for_one_batch(tables):
    from rexai_assets.gold.features import feature_context

    ctx = feature_context(tables)
    cands = rc.sample_candidates(ctx, tables.inventory, 3000, seed=11, batch_kg=60.0)
    assert len(cands) == 3000 and cands.mass_rejected > 0  # W012 holds 18 kg: some mixes cannot be made
    mass = rc.inventory_mass(ctx, tables.inventory)
    for item_row, frac_row, r in zip(cands.item_idx, cands.item_frac, cands.regolith):
        for k, f in zip(item_row, frac_row):
            if k >= 0:
                assert 60.0 * (1 - r) * f <= mass[k] + 1e-9


def test_recommendations_respect_caps(tables, model_scorer):
    presets = tables.presets.copy()
    # Tight caps: many candidates are over a cap with 95 % confidence and must disappear.
    presets.loc[len(presets)] = {"name": "Tight", "rigidity": 0.8, "tightness": 0.7, "max_water_l": 0.02,
                                 "max_energy_kwh": 0.6, "max_crew_min": 15.0}
    tight = type(tables)(**{**tables.__dict__, "presets": presets})
    rec = rc.recommend(tight, "Tight", model_scorer, small_cfg(top_n=50))
    assert rec.counts["cap_infeasible"] > 0
    assert rec.counts["feasible"] + rec.counts["cap_infeasible"] == rec.counts["scored"]
    assert not rec.ranked.empty
    for row in rec.ranked.to_dict("records"):
        assert row["energy_kwh_lo"] <= 0.6 and row["water_l_lo"] <= 0.02 and row["crew_min_lo"] <= 15.0
    assert rec.ranked["score"].is_monotonic_decreasing
    assert bool(rec.ranked.iloc[0]["on_pareto"])  # the best weighted score is never dominated
    assert rec.source == "model" and rec.model_version == "7"
    doc = json.loads(rec.to_json())
    first = doc["recommendations"][0]
    assert set(first["prediction"]) == set(model_scorer.target_names)
    assert len(first["drivers"]["rigidity"]) == 3 and {"feature", "contribution", "value"} <= set(first["drivers"]["rigidity"][0])
    # The Pareto front holds only feasible, mutually non-dominated recipes.
    front = rec.pareto[list(rc.OBJECTIVES)].to_numpy()
    assert rc.pareto_mask(front).all()


def test_unknown_target_lists_valid_names(tables):
    with pytest.raises(rc.UnknownPreset, match="valid targets: Container, Utensil, Interior, Tool"):
        rc.recommend(tables, "Spaceship", heuristic_scorer(), small_cfg())


def test_outputs_markdown_and_png(tables, tmp_path):
    rec = rc.recommend(tables, "Container", heuristic_scorer(), small_cfg())
    assert rec.source == "heuristic" and rec.model_version is None
    paths = rc.write_outputs(rec, tmp_path)
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = paths["markdown"].read_text()
    assert table.count("\n| ") == len(rec.ranked) + 1  # header + one line per recipe
    assert rc.markdown_image(b"png").startswith("![plot](data:image/png;base64,")


def test_preset_partitions_follow_the_file(raw_copy):
    instance = dg.DagsterInstance.ephemeral()
    names = preset_names(raw_copy)
    assert preset_partition_changes(instance, names) == (["Container", "Utensil", "Interior", "Tool"], [])
    assert sync_preset_partitions(instance, names) == ["Container", "Utensil", "Interior", "Tool"]
    assert preset_partition_changes(instance, names) == ([], [])
    presets = json.loads((raw_copy / "targets_presets.json").read_text())
    presets.append({"name": "Shelf", "rigidity": 0.7, "tightness": 0.2, "max_water_l": 0.2, "max_energy_kwh": 1.0,
                    "max_crew_min": 30})
    presets = [p for p in presets if p["name"] != "Utensil"]
    (raw_copy / "targets_presets.json").write_text(json.dumps(presets))
    assert preset_partition_changes(instance, preset_names(raw_copy)) == (["Shelf"], ["Utensil"])
    assert sync_preset_partitions(instance, preset_names(raw_copy)) == ["Container", "Interior", "Tool", "Shelf"]
    assert sorted(instance.get_dynamic_partitions(PRESET_PARTITIONS)) == ["Container", "Interior", "Shelf", "Tool"]
