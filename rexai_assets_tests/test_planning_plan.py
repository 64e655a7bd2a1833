"""`plan_experiments` on a small real ensemble: the mix, exclusions, diversity, verification and disagreement;
and the command's one-line errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rexai_assets.planning.config import planning_settings
from rexai_assets.planning.plan import PlanningError, plan_experiments

POOL = (3000, 50.0)


@pytest.fixture(scope="module")
def setting():
    from rexai_assets.models.predictive import preset_from_frame
    from rexai_assets.raw.tables import load_raw_tables
    from rexai_assets.models.testing import small_ensemble, small_gold

    tables = load_raw_tables(Path(__file__).resolve().parents[1] / "data" / "raw")
    gold = small_gold(tables, size=400)
    presets = [preset_from_frame(tables.presets, str(n)) for n in tables.presets["name"]]
    return tables, small_ensemble(gold, autoencoder=False), small_ensemble(gold, autoencoder=False, seed=9), presets


def features_of(plan, tables):
    from rexai_assets.gold.features import featurize_recipes
    from rexai_assets.recipes import parse_recipe

    return featurize_recipes([parse_recipe(e.recipe) for e in plan.experiments], tables).to_numpy(float)


def test_mix_diversity_and_verification(setting):
    tables, model, _, presets = setting
    cfg = planning_settings()
    plan = plan_experiments(tables, model, "7", [], set(), cfg, 20, presets, pool_size=POOL)
    purposes = Counter(e.purpose.split(":")[0] for e in plan.experiments)
    # One member only: no disagreement to measure, its share goes to explore (10 + 4), verify 6 over 4 presets.
    assert purposes == {"explore": 14, "verify": 6} and plan.model_version == "7"
    assert len({e.recipe_id for e in plan.experiments}) == 20
    verify = [e for e in plan.experiments if e.purpose.startswith("verify:")]
    assert {e.purpose.split(":")[1] for e in verify} == {p.name for p in presets}
    assert all(0.0 <= e.acquisition <= 1.0 for e in verify)
    # No two picks closer than min_distance in the pool's standardised feature space.
    from rexai_assets.gold.feasible import sample_candidates
    from rexai_assets.gold.features import feature_context
    from rexai_assets.planning import acquisition as acq

    X = sample_candidates(feature_context(tables), tables.inventory, POOL[0], cfg.seed, POOL[1]).X
    Z = acq.standardise(features_of(plan, tables), acq.standardiser(X))
    gaps = np.linalg.norm(Z[:, None] - Z[None, :], axis=2)[np.triu_indices(len(Z), 1)]
    assert gaps.min() >= cfg.min_distance


def test_measured_and_planned_recipes_are_never_planned_again(setting):
    tables, model, _, presets = setting
    cfg = planning_settings()
    first = plan_experiments(tables, model, "7", [], set(), cfg, 12, presets, pool_size=POOL)
    measured = [(e.recipe_id, '{"bad": "spec"}') for e in first.experiments[:6]]           # by logged id
    measured += [("LAB-" + str(i), json_spec(e.recipe)) for i, e in enumerate(first.experiments[6:9])]  # by spec
    planned = {e.recipe_id for e in first.experiments[9:]}
    second = plan_experiments(tables, model, "7", measured, planned, cfg, 12, presets, pool_size=POOL)
    assert not {e.recipe_id for e in first.experiments} & {e.recipe_id for e in second.experiments}


def json_spec(recipe: dict) -> str:
    import json

    return json.dumps({k: v for k, v in recipe.items() if k != "recipe_id"})


def test_disagreement_with_a_rival_picks_where_the_two_models_differ(setting):
    tables, model, rival, presets = setting
    plan = plan_experiments(tables, model, "1", [], set(), planning_settings(), 8, presets,
                            mix={"disagreement": 1.0}, rival=rival, pool_size=POOL)
    assert {e.purpose for e in plan.experiments} == {"disagreement"}
    from rexai_assets.gold.feasible import sample_candidates
    from rexai_assets.gold.features import feature_context

    pool = sample_candidates(feature_context(tables), tables.inventory, POOL[0], planning_settings().seed, POOL[1]).X
    pa, pb = model.predict(pool), rival.predict(pool)
    scale = {t: pa[t]["value"].std() for t in pa}   # each target's spread over the pool: unit-free

    def gap(x, y):
        return np.mean([np.abs(x[t]["value"] - y[t]["value"]) / scale[t] for t in x], axis=0)

    X = features_of(plan, tables)
    assert gap(model.predict(X), rival.predict(X)).min() > np.quantile(gap(pa, pb), 0.9)


def test_explore_covers_the_pool_where_the_measured_correction_is_unsure(setting):
    import copy

    from rexai_assets.gold.feasible import sample_candidates
    from rexai_assets.gold.features import feature_context
    from rexai_assets.models.correction import CorrectionConfig, cross_fit_correction
    from rexai_assets.planning import acquisition as acq
    from rexai_assets.planning.plan import score_pool

    tables, model, _, presets = setting
    cfg = planning_settings()
    # 120 "measured" recipes outside the planning pool whose reality departs from the prior in one feature.
    X = sample_candidates(feature_context(tables), tables.inventory, 120, 5, POOL[1]).X
    prior = np.column_stack([model.predict(X)[t]["value"] for t in model.target_names])
    Y = prior + 0.2 * np.tanh(X[:, :1])
    fit = cross_fit_correction(X, Y, np.ones(len(X)), prior, np.ones(len(X), bool), np.arange(len(X)).astype(str),
                               tuple(model.target_names), CorrectionConfig(min_rows=30), seed=1)
    corrected = copy.copy(model)
    corrected.correction = fit.correction
    pool = score_pool(tables, corrected, cfg, *POOL)
    assert pool.spread is not None and pool.spread.shape == (POOL[0], len(model.target_names)) and pool.spread.max() > 0
    measured = [(f"LAB-{i}", "{}") for i in range(3)]  # ids only: no features to cover from
    plan = plan_experiments(tables, corrected, "8", measured, set(), cfg, 10, presets, mix={"explore": 1.0},
                            pool_size=POOL)
    assert [e.purpose for e in plan.experiments] == ["explore"] * 10
    gains = [e.acquisition for e in plan.experiments]
    assert all(g > 0 for g in gains) and gains == sorted(gains, reverse=True)   # greedy coverage: gains fall
    Z = acq.standardise(features_of(plan, tables), pool.stats)
    assert np.linalg.norm(Z[:, None] - Z[None, :], axis=2)[np.triu_indices(10, 1)].min() >= cfg.min_distance


def test_bad_requests(setting):
    tables, model, _, presets = setting
    with pytest.raises(PlanningError, match="at least 1"):
        plan_experiments(tables, model, "1", [], set(), planning_settings(), 0, presets, pool_size=POOL)


def test_command_errors_are_one_line(capsys, tmp_path):
    from rexai_assets.cli import main

    assert main(["plan-experiments", "--n", "0"]) == 1
    assert capsys.readouterr().err.strip() == "rexai plan-experiments: --n must be at least 1"
    assert main(["plan-experiments", "--sheet", str(tmp_path / "plan.txt")]) == 1
    assert capsys.readouterr().err.strip() == f"rexai plan-experiments: {tmp_path / 'plan.txt'}: the lab sheet is a .csv file"
    assert main(["plan-experiments"]) == 1
    assert capsys.readouterr().err.strip() == ("rexai plan-experiments: no champion yet: plans are made from a "
                                               "trained model (run `rexai run` first)")
    assert not (tmp_path / "plan.txt").exists()


def test_a_repeated_plan_takes_its_scores_from_the_cache_without_loading_the_model(setting, tmp_path):
    """The champion's scores of planning's pool are kept per (model hash, pool): the second plan, from the
    model's card alone, is the same plan, and never loads the model; another model misses the cache."""
    from rexai_assets.models.score_cache import ScoreCache
    from rexai_assets.models.scorer import scorer_card
    from rexai_assets.planning.service import CardModel

    tables, model, rival, presets = setting
    cfg, cache = planning_settings(), ScoreCache(tmp_path)
    assert model.model_hash  # recorded, as for every saved or loaded model
    first = plan_experiments(tables, model, "7", [], set(), cfg, 12, presets, pool_size=POOL, cache=cache)
    assert len(list(tmp_path.glob("*.npz"))) == 1

    def no_load():
        raise AssertionError("the model was loaded although its pool's scores are cached")

    card = CardModel(scorer_card(model, "7"), no_load)
    again = plan_experiments(tables, card, "7", [], set(), cfg, 12, presets, pool_size=POOL, cache=cache)
    assert [(e.recipe_id, e.purpose, e.acquisition, e.prediction) for e in again.experiments] == [
        (e.recipe_id, e.purpose, e.acquisition, e.prediction) for e in first.experiments]
    assert rival.model_hash != model.model_hash
    plan_experiments(tables, rival, "8", [], set(), cfg, 12, presets, pool_size=POOL, cache=cache)
    assert len(list(tmp_path.glob("*.npz"))) == 2
    loaded = []
    lazy = CardModel(scorer_card(model, "7"), lambda: loaded.append(1) or model)
    assert lazy.target_names == model.target_names and not loaded
    assert lazy.predict(np.zeros((1, len(model.feature_names))))  # anything beyond the card loads it, once
    lazy.predict(np.zeros((1, len(model.feature_names))))
    assert loaded == [1]
