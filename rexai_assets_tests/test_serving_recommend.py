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
from rexai_assets.models.scorer import Scorer, ensemble_scorer, heuristic_scorer
from rexai_assets.models.testing import small_ensemble, small_gold

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
    # Ranked by (whole interval meets, p_meets floored to 0.01 descending, resource load ascending).
    keys = list(zip(~rec.ranked["interval_meets"], -np.floor(rec.ranked["p_meets"] * 100 + 1e-6),
                    rec.ranked["resource_load"]))
    assert keys == sorted(keys)
    assert rec.ranked["p_meets"].between(0, 1).all()
    for row in rec.ranked.to_dict("records"):
        meets = (row["rigidity_lo"] >= 0.8 and row["tightness_lo"] >= 0.7 and row["energy_kwh_hi"] <= 0.6
                 and row["water_l_hi"] <= 0.02 and row["crew_min_hi"] <= 15.0)
        assert row["interval_meets"] == meets
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
    from rexai_assets.plots import markdown_image

    assert markdown_image(b"png").startswith("![plot](data:image/png;base64,")


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


# ---------------------------------------------------------------------------------------------
# p_meets: the probability of meeting a preset under the served predictive distribution

Z95 = 1.959963984540054


def test_prob_at_least_and_at_most_exact_values():
    from scipy.special import ndtr

    assert rc.interval_z(0.95) == pytest.approx(Z95, abs=1e-12)
    # Symmetric interval: lo and hi are the 2.5 % and 97.5 % quantiles, value is the median.
    at_least = rc.prob_at_least(0.5, 0.3, 0.7, [0.3, 0.5, 0.7])
    assert at_least == pytest.approx([0.975, 0.5, 0.025], abs=1e-12)
    assert rc.prob_at_most(0.5, 0.3, 0.7, [0.3, 0.5, 0.7]) == pytest.approx([0.025, 0.5, 0.975], abs=1e-12)
    # Split normal: the side the threshold falls in sets the spread (here the upper one, twice as wide).
    assert float(rc.prob_at_least(0.5, 0.4, 0.9, 0.7)) == pytest.approx(float(ndtr(-Z95 / 2)), abs=1e-12)
    assert float(rc.prob_at_least(0.5, 0.4, 0.9, 0.45)) == pytest.approx(float(ndtr(Z95 / 2)), abs=1e-12)
    assert float(rc.prob_at_most(10.0, 6.0, 20.0, 15.0)) == pytest.approx(float(ndtr(Z95 / 2)), abs=1e-12)
    # The nominal coverage sets z: the bound of a 90 % interval is its 5 % quantile.
    assert float(rc.prob_at_least(0.5, 0.3, 0.7, 0.3, coverage=0.9)) == pytest.approx(0.95, abs=1e-12)
    # Vectorised over rows, thresholds broadcast.
    out = rc.prob_at_least(np.array([0.5, 0.9]), np.array([0.3, 0.8]), np.array([0.7, 1.0]), 0.5)
    assert out.shape == (2,) and out.tolist() == pytest.approx([0.5, float(ndtr(0.4 * Z95 / 0.1))], abs=1e-12)
    with pytest.raises(ValueError, match="coverage"):
        rc.interval_z(1.0)


def test_prob_zero_width_is_a_point_mass():
    # A zero-width interval: probability 0 or 1, never 0.5 at the threshold.
    assert rc.prob_at_least(0.8, 0.8, 0.8, [0.79, 0.8, 0.81]).tolist() == [1.0, 1.0, 0.0]
    assert rc.prob_at_most(0.8, 0.8, 0.8, [0.79, 0.8, 0.81]).tolist() == [0.0, 1.0, 1.0]
    # One side of zero width: half the mass sits on the value.
    assert rc.prob_at_least(0.8, 0.8, 0.9, [0.7, 0.8]).tolist() == [1.0, 1.0]
    assert rc.prob_at_most(0.8, 0.8, 0.9, [0.79, 0.8]).tolist() == [0.0, 0.5]
    assert float(rc.prob_at_least(0.8, 0.8, 0.9, 0.85)) == pytest.approx(float(rc.prob_at_least(0.5, 0.4, 0.6, 0.55)))
    assert float(rc.prob_at_least(0.8, 0.7, 0.8, 0.81)) == 0.0
    # NaN predictions cannot be shown to meet anything.
    assert rc.prob_at_least(np.nan, 0.1, 0.9, 0.5).tolist() == 0.0


def test_prob_with_intervals_clipped_at_the_bounds():
    from scipy.special import ndtr

    # rigidity at the top of [0, 1]: hi clipped to 1 = value, the upper half is a point mass at 1.
    assert float(rc.prob_at_least(1.0, 0.8, 1.0, 0.9)) == pytest.approx(float(ndtr(Z95 / 2)), abs=1e-12)
    assert float(rc.prob_at_least(1.0, 0.8, 1.0, 1.0)) == pytest.approx(0.5, abs=1e-12)
    assert float(rc.prob_at_least(0.9, 0.7, 1.0, 1.0)) == pytest.approx(0.025, abs=1e-12)
    # a resource near 0: lo clipped to 0.
    assert float(rc.prob_at_most(0.0, 0.0, 0.2, 0.1)) == pytest.approx(float(ndtr(Z95 / 2)), abs=1e-12)
    assert float(rc.prob_at_most(0.05, 0.0, 0.2, 0.0)) == pytest.approx(0.025, abs=1e-12)
    # A value beyond a clipped bound (1.02 > hi = 1) is read as the bound itself.
    assert float(rc.prob_at_least(1.02, 0.8, 1.0, 0.9)) == pytest.approx(float(ndtr(Z95 / 2)), abs=1e-12)
    assert float(rc.prob_at_least(1.02, 0.8, 1.0, 1.0)) == pytest.approx(0.5, abs=1e-12)


CONTAINER = rc.Preset("Container", rigidity=0.8, tightness=0.7, max_water_l=0.2, max_energy_kwh=1.2, max_crew_min=30.0)
TARGET_ORDER = ("rigidity", "tightness", "energy_kwh", "water_l", "crew_min")


def point(rigidity=0.95, tightness=0.9, energy_kwh=0.3, water_l=0.05, crew_min=10.0) -> dict:
    """A prediction whose every interval has zero width."""
    values = dict(rigidity=rigidity, tightness=tightness, energy_kwh=energy_kwh, water_l=water_l, crew_min=crew_min)
    return {t: (v, v, v) for t, v in values.items()}


def fixed_scorer(rows: list[dict], feature_names, calibrated_on=None, coverage: float = 0.95) -> Scorer:
    """A scorer answering row i of every batch with rows[i] = {target: (value, lo, hi)}."""
    def predict(X):
        assert len(X) == len(rows)
        return {t: {k: np.array([float(r[t][j]) for r in rows]) for j, k in enumerate(("value", "lo", "hi"))}
                for t in TARGET_ORDER}

    return Scorer("model", "9", tuple(feature_names), TARGET_ORDER, predict, calibrated_on=calibrated_on,
                  coverage_target=coverage)


@pytest.fixture(scope="module")
def ctx(tables):
    from rexai_assets.gold.features import feature_context

    return feature_context(tables)


def ranked_positions(ctx, cands, rec) -> list[int]:
    ids = [r["recipe_id"] for r in rc.recipe_records(ctx, cands, range(len(cands)))]
    return [ids.index(i) for i in rec.ranked["recipe_id"]]


def lo_for(p: float, value: float = 0.95, requirement: float = 0.8, coverage: float = 0.95) -> float:
    """The lower bound that makes P(rigidity >= requirement) = p for a prediction `value`."""
    from scipy.special import ndtri

    return value - (value - requirement) * float(ndtri((1 + coverage) / 2)) / float(ndtri(p))


def test_whole_interval_meeting_ranks_above_a_wide_straddling_interval(tables, ctx):
    cands = rc.sample_candidates(ctx, tables.inventory, 3, seed=3, batch_kg=50.0)
    # 0: point prediction well above the rigidity requirement, cheap, but its interval straddles it.
    wide = dict(point(energy_kwh=0.2, water_l=0.02, crew_min=3.0), rigidity=(0.99, 0.78, 1.0))
    # 1: every interval meets the preset exactly at its bound, expensive.
    sure = {"rigidity": (0.85, 0.8, 0.9), "tightness": (0.75, 0.7, 0.8), "energy_kwh": (1.0, 0.8, 1.2),
            "water_l": (0.15, 0.1, 0.2), "crew_min": (25.0, 20.0, 30.0)}
    # 2: misses rigidity for sure.
    rows = [wide, sure, point(rigidity=0.5)]
    rec = rc.rank_candidates(ctx, cands, fixed_scorer(rows, ctx.names), CONTAINER, small_cfg(top_n=3))
    assert ranked_positions(ctx, cands, rec) == [1, 0, 2]
    by_position = dict(zip(ranked_positions(ctx, cands, rec), rec.ranked.to_dict("records")))
    assert [by_position[i]["interval_meets"] for i in range(3)] == [False, True, False]
    assert by_position[1]["p_meets"] == pytest.approx(0.975 ** 5, abs=1e-4)
    assert by_position[0]["p_meets"] == pytest.approx(float(rc.prob_at_least(0.99, 0.78, 1.0, 0.8)), abs=1e-4)
    assert by_position[2]["p_meets"] == 0.0
    # The straddling recipe has both the better score and the higher p_meets: only rule (1) puts the other first.
    assert by_position[0]["score"] > by_position[1]["score"]
    assert by_position[0]["p_meets"] > by_position[1]["p_meets"]


def test_p_meets_dominates_score_then_cost_within_a_bucket(tables, ctx):
    cands = rc.sample_candidates(ctx, tables.inventory, 4, seed=4, batch_kg=50.0)
    straddling = lambda p, **use: dict(point(**use), rigidity=(0.95, lo_for(p), 1.0))  # noqa: E731
    rows = [straddling(0.90, energy_kwh=0.1, water_l=0.01, crew_min=2.0),    # 0: best score, lowest p
            straddling(0.939, energy_kwh=1.0, water_l=0.15, crew_min=25.0),  # 1: bucket 0.93, expensive
            straddling(0.931, energy_kwh=0.6, water_l=0.1, crew_min=15.0),   # 2: bucket 0.93, cheaper
            straddling(0.931, energy_kwh=0.6, water_l=0.1, crew_min=15.0)]   # 3: same as 2, drawn later
    rec = rc.rank_candidates(ctx, cands, fixed_scorer(rows, ctx.names), CONTAINER, small_cfg(top_n=4))
    # Bucketed by floor: 0.939 and 0.931 are both 0.93 (rounding would put 0.939 first), so cost decides;
    # identical recipes keep draw order; the best score comes last because its p_meets is lowest.
    assert ranked_positions(ctx, cands, rec) == [2, 3, 1, 0]
    assert rec.ranked["p_meets"].tolist() == pytest.approx([0.931, 0.931, 0.939, 0.90], abs=1e-4)
    assert not rec.ranked["interval_meets"].any()
    assert rec.ranked["score"].iloc[-1] == rec.ranked["score"].max()
    assert rec.ranked["resource_load"].iloc[0] < rec.ranked["resource_load"].iloc[2]


def test_ranking_order_keys():
    meets = np.array([False, True, False, False, True])
    p = np.array([0.99, 0.95, 0.5, 0.999, 0.951])
    load = np.array([0.1, 0.9, 0.0, 0.2, 0.95])
    # meets first (p 0.95 vs 0.951 share bucket 0.95: cheaper first), then p bucket 0.99 (two rows: cheaper first).
    assert rc.ranking_order(meets, p, load).tolist() == [1, 4, 0, 3, 2]
    assert rc.ranking_order(np.zeros(3, bool), np.full(3, 0.29), np.zeros(3)).tolist() == [0, 1, 2]


def test_cap_infeasible_recipes_are_still_removed(tables, ctx):
    cands = rc.sample_candidates(ctx, tables.inventory, 2, seed=3, batch_kg=50.0)
    rows = [point(energy_kwh=1.5), point()]   # 0: lower bound above the energy cap
    rec = rc.rank_candidates(ctx, cands, fixed_scorer(rows, ctx.names), CONTAINER, small_cfg())
    assert rec.counts["cap_infeasible"] == 1 and ranked_positions(ctx, cands, rec) == [1]


def test_json_and_markdown_carry_p_meets_and_calibration(tables, ctx):
    cands = rc.sample_candidates(ctx, tables.inventory, 3, seed=3, batch_kg=50.0)
    # The scorer's nominal coverage (0.9 here) sets z: this interval gives p = 0.9 only at 90 %.
    rows = [dict(point(), rigidity=(0.95, lo_for(0.9, coverage=0.9), 1.0)), point(), point(rigidity=0.5)]
    calibrated_on = {"rigidity": "measured", "tightness": "measured", "energy_kwh": "simulated",
                     "water_l": "simulated", "crew_min": "simulated"}
    rec = rc.rank_candidates(ctx, cands, fixed_scorer(rows, ctx.names, calibrated_on, coverage=0.9), CONTAINER,
                             small_cfg())
    doc = json.loads(rec.to_json())
    assert doc["calibrated_on"] == calibrated_on and doc["coverage_target"] == 0.9
    assert [(r["p_meets"], r["interval_meets"]) for r in doc["recommendations"]] == [
        (1.0, True), (pytest.approx(0.9, abs=1e-4), False), (0.0, False)]
    assert all(isinstance(r["resource_load"], float) for r in doc["recommendations"])
    table = rc.markdown_table(rec)
    assert "| # | recipe | p_meets | interval |" in table
    assert "| 1.0000 | meets |" in table and "| 0.0000 | no |" in table
    assert ("calibrated on simulation only for: energy_kwh, water_l, crew_min; intervals include the "
            "simulator-to-reality allowance") in table


def test_heuristic_and_model_scorers_carry_calibration(tables, ctx, model_scorer):
    import dataclasses

    heuristic = heuristic_scorer()
    assert heuristic.calibrated_on == {t: "uncalibrated" for t in TARGET_ORDER} and heuristic.coverage_target == 0.95
    rec = rc.recommend(tables, "Container", heuristic, small_cfg(candidates=300))
    assert json.loads(rec.to_json())["calibrated_on"] == {t: "uncalibrated" for t in TARGET_ORDER}
    # A model that predates the record: None (and the default 95 %); a model that has it: passed through,
    # in target order.
    model = model_scorer.model
    older = {k: v for k, v in model.metadata.items() if k not in ("calibrated_on", "coverage_target")}
    scorer = ensemble_scorer(dataclasses.replace(model, metadata=older), "7")
    assert scorer.calibrated_on is None and scorer.coverage_target == 0.95
    cands = rc.sample_candidates(ctx, tables.inventory, 50, seed=3, batch_kg=50.0)
    assert rc.rank_candidates(ctx, cands, scorer, CONTAINER, small_cfg()).to_dict()["calibrated_on"] is None
    recorded = dataclasses.replace(model, metadata={**model.metadata, "coverage_target": 0.9,
                                                    "calibrated_on": {"crew_min": "simulated", "rigidity": "measured"}})
    scorer = ensemble_scorer(recorded, "8")
    assert scorer.calibrated_on == {"rigidity": "measured", "crew_min": "simulated"} and scorer.coverage_target == 0.9
    assert list(scorer.calibrated_on) == ["rigidity", "crew_min"]


def test_calibration_note():
    from rexai_assets.models.scorer import calibration_note

    assert calibration_note({t: "measured" for t in TARGET_ORDER}, TARGET_ORDER) == (
        "intervals calibrated on: measured (rigidity, tightness, energy_kwh, water_l, crew_min)")
    mixed = calibration_note({"rigidity": "simulated", "tightness": "measured", "energy_kwh": "measured"}, TARGET_ORDER)
    assert mixed == ("intervals calibrated on: measured (tightness, energy_kwh); simulated (rigidity); not recorded "
                     "(water_l, crew_min) — calibrated on simulation only for: rigidity; intervals include the "
                     "simulator-to-reality allowance")
    assert "not recorded" in calibration_note(None, TARGET_ORDER)
    assert "not calibrated on any data" in calibration_note({t: "uncalibrated" for t in TARGET_ORDER}, TARGET_ORDER)
