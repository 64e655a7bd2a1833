"""Feature contract and features: a hand-worked recipe, recipe ids, the pool sampler, the blocking feature check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rexai_assets.gold import contract as gc
from rexai_assets.gold.candidates import recipe_candidates_pool, sample_arrays
from rexai_assets.gold.features import (FeatureError, build_features, feature_context, feature_problems,
                                        featurize_recipes, recipes_to_slots)
from rexai_assets.raw.tables import load_raw_tables
from rexai_assets.recipes import default_recipe_id, parse_recipe
from rexai_assets_tests.conftest import SHIPPED_RAW


@pytest.fixture(scope="module")
def tables():
    return load_raw_tables(SHIPPED_RAW)


def test_hand_worked_recipe(tables):
    # 60 % towels (W004: cotton 100 %, 5 % moisture, difficulty 2, textile, 280 kg in 2.5 m3)
    # + 40 % air cushions (W011: polyethylene 100 %, dry, difficulty 1, 40 kg in 2.0 m3),
    # sintered (P03) with 20 % MGS-1.
    recipe = parse_recipe({"items": [{"waste_id": "W004", "mass_frac": 0.6}, {"waste_id": "W011", "mass_frac": 0.4}],
                           "process_id": "P03", "regolith_frac": 0.2})
    got = featurize_recipes([recipe], tables).iloc[0]
    w, r = 0.8, 0.2
    water_feed = w * 0.6 * 0.05                       # 0.024 kg
    m = 1 - 1.0 * water_feed - 1.0 * r * 0.032        # P03 drives off feed water and MGS-1 H2O (3.2 wt%)
    cotton_dry, pe_dry = 0.6 * 0.95, 0.4 * 1.0        # dry family mass per kg of waste
    covered = cotton_dry + pe_dry                      # both families have data sheets
    expected = {
        "fam_cotton": w * cotton_dry / m, "fam_polyethylene": w * pe_dry / m,
        "fam_nylon": 0.0, "fam_aluminum": 0.0, "fam_cfrp": 0.0, "fam_other": 0.0,
        "moisture": water_feed / m,
        "difficulty": w * (0.6 * 2 + 0.4 * 1) / m,
        "bulk_density_kg_m3": 1 / (w * (0.6 * 2.5 / 280 + 0.4 * 2.0 / 40) + r / 1290),
        "flag_textile": w * 0.6 / m, "flag_foam": 0.0, "flag_multilayer": 0.0,
        "proc_P01": 0.0, "proc_P02": 0.0, "proc_P03": 1.0, "proc_P04": 0.0,
        "regolith_frac": 0.2,
        "ox_stable": r * (48 + 18 + 13 + 5.5 + 7 + 2) / 100 / m,
        "ox_volatile": 0.0,
        "sheet_density_g_cm3": (cotton_dry * 1.55 + pe_dry * (0.947 + 0.955) / 2) / covered,
        "sheet_modulus_gpa": (cotton_dry * 9.05 + pe_dry * 1.0) / covered,
        "sheet_strength_mpa": (cotton_dry * 442 + pe_dry * 25) / covered,
        "sheet_elongation_pct": (cotton_dry * 7.5 + pe_dry * 9) / covered,
        "sheet_coverage": w * covered / m,
        "proc_energy_kwh_per_kg": 0.70 / m, "proc_water_l_per_kg": 0.1 / m, "proc_crew_min_per_batch": 25.0,
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name
    assert list(got.index) == list(gc.feature_names())
    # Mass balance: dry families + retained regolith (listed oxides + the 3.3 wt% mgs1_oxides.csv
    # leaves unlisted) = 1 kg of product; P03 retains no water.
    families = sum(got[f] for f in gc.load_contract().families)
    unlisted = r * (100 - 96.7) / 100 / m
    assert families + got["ox_stable"] + got["ox_volatile"] + unlisted == pytest.approx(1.0, rel=1e-12)


def test_volatile_oxides_stay_without_heat(tables):
    recipe = parse_recipe({"items": [{"waste_id": "W011", "mass_frac": 1.0}], "process_id": "P01", "regolith_frac": 0.5})
    got = featurize_recipes([recipe], tables).iloc[0]
    assert got["ox_volatile"] == pytest.approx(0.5 * 0.032)
    assert got["proc_energy_kwh_per_kg"] == pytest.approx(0.12)   # no losses: product = mix


def test_two_mixes_of_the_same_items_get_different_ids(tables):
    a = default_recipe_id([("W003", 0.6), ("W011", 0.4)], "P02", 0.0)
    b = default_recipe_id([("W003", 0.4), ("W011", 0.6)], "P02", 0.0)
    assert a != b
    assert default_recipe_id([("W011", 0.4), ("W003", 0.6)], "P02", 0.0) == a   # item order is irrelevant
    pool = recipe_candidates_pool(tables, size=400)
    assert pool["recipe_id"].is_unique
    mixes = pool.assign(items=pool[["waste_id_1", "waste_id_2", "waste_id_3", "waste_id_4"]].astype(str).agg("|".join, axis=1))
    repeated = mixes.groupby(["items", "process_id"])["recipe_id"].nunique()
    assert (repeated > 1).any()   # the pool does hold different mixes of the same items, each with its own id


def test_pool_specs_round_trip_through_the_recipe_contract(tables):
    pool = recipe_candidates_pool(tables, size=300)
    ctx = feature_context(tables)
    for row in pool.head(50).itertuples():
        recipe = parse_recipe(row.recipe_spec)
        assert recipe.recipe_id == row.recipe_id
        assert recipe.recipe_id == default_recipe_id(recipe.items, recipe.process_id, recipe.regolith_frac)
    rebuilt = build_features(recipes_to_slots([parse_recipe(s) for s in pool["recipe_spec"]]), tables, ctx)
    np.testing.assert_allclose(rebuilt, pool[list(ctx.names)].to_numpy(), rtol=1e-12, atol=1e-12)


def test_sampler_is_seeded_and_valid(tables):
    ctx = feature_context(tables)
    cfg = gc.gold_settings()
    a = sample_arrays(ctx, 2000, np.random.default_rng(3), cfg)
    b = sample_arrays(ctx, 2000, np.random.default_rng(3), cfg)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    item_idx, item_frac, process_idx, regolith = a
    n_items = (item_idx >= 0).sum(axis=1)
    assert set(np.unique(n_items)) == {1, 2, 3, 4}
    np.testing.assert_allclose(item_frac.sum(axis=1), 1.0)
    assert ((item_frac > 0) == (item_idx >= 0)).all()
    used = np.where(item_idx >= 0, item_idx, 99)
    assert all(len(set(r[r < 99])) == len(r[r < 99]) for r in used)   # distinct items per recipe
    assert set(np.unique(process_idx)) == set(range(len(ctx.process_ids)))
    assert regolith.min() >= 0 and regolith.max() <= 0.5
    p03 = ctx.process_ids.index("P03")
    assert regolith[process_idx == p03].min() >= 0.05   # sintering always gets regolith (config)
    assert recipe_candidates_pool(tables, size=200)["recipe_id"].tolist() == recipe_candidates_pool(tables, size=200)["recipe_id"].tolist()


def test_feature_check_finds_constant_nan_and_multiples():
    rng = np.random.default_rng(0)
    a, b = rng.random(50), rng.random(50)
    X = np.column_stack([a, b, 3 * a, np.full(50, 2.0), np.full(50, np.nan), a + 0.01 * b])
    problems = feature_problems(X, ["a", "b", "a3", "const", "nan", "near"])
    assert problems == ["nan: all NaN", "const: constant (2)", "a3: exact multiple of a (x3)"]


def test_pool_features_pass_the_blocking_check(tables):
    pool = recipe_candidates_pool(tables, size=2000)
    names = gc.feature_names()
    assert feature_problems(pool[list(names)].to_numpy(), names) == []


def test_per_oxide_columns_would_fail_the_check(tables):
    # Why the contract sums oxides: per-oxide contributions of one simulant are exact multiples.
    pool = recipe_candidates_pool(tables, size=500)
    oxides = feature_context(tables).oxides
    X = np.column_stack([pool["regolith_frac"] * oxides["SiO2"], pool["regolith_frac"] * oxides["FeOT"]])
    assert feature_problems(X, ["ox_SiO2", "ox_FeOT"]) == ["ox_FeOT: exact multiple of ox_SiO2 (x0.375)"]


def test_bad_recipe_rows_are_named(tables):
    frame = pd.DataFrame({"recipe_id": ["ok", "bad"], "process_id": ["P01", "P01"], "regolith_frac": [0.0, 0.1],
                          "waste_id_1": ["W001", "W999"], "mass_frac_1": [1.0, 1.0]})
    with pytest.raises(FeatureError, match="recipe bad: unknown waste_id 'W999'"):
        build_features(frame, tables)
    frame = pd.DataFrame({"recipe_id": ["r1"], "process_id": ["P09"], "regolith_frac": [0.0],
                          "waste_id_1": ["W001"], "mass_frac_1": [1.0]})
    with pytest.raises(FeatureError, match="process 'P09' is not in the feature contract"):
        build_features(frame, tables)


def test_contract_hash_changes_with_the_contract(config_override):
    before = gc.feature_order_hash()
    config_override("feature_contract.yaml", {"moisture_release": {"P02": 0.5, "P03": 1.0}})
    assert gc.feature_order_hash() != before


def test_contract_rejects_a_features_list_that_does_not_match(config_override):
    names = list(gc.feature_names())
    config_override("feature_contract.yaml", {"features": names[:-1]})
    with pytest.raises(gc.ContractError, match="not listed: \\['proc_crew_min_per_batch'\\]"):
        gc.load_contract()
