"""Building a plan: the candidate pool, its scores under the champion, and the mixed, diverse batch.

`plan_experiments` is the one entry point (the asset, `rexai plan-experiments`, the second vote's
`--request-tests` and the benchmark all call it). The pool is serving's inventory-feasible sampler
(`gold.feasible`) with planning's own seed; recipes measured already (any observation in the warehouse,
by recipe_id or by canonical spec) or planned and not yet run are never planned again.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from rexai_assets.planning import acquisition as acq
from rexai_assets.planning.config import PlanningSettings
from rexai_assets.planning.store import Plan, PlannedExperiment, now_utc

DISAGREEMENT, EXPLORE, VERIFY = "disagreement", "explore", "verify"


class PlanningError(ValueError):
    """A plan that cannot be made (no model, no candidate left); one-line reason."""


@dataclass
class Pool:
    """The scored candidate pool of one plan."""

    ctx: Any
    cands: Any                      # gold.feasible.Candidates
    stats: tuple[np.ndarray, np.ndarray]  # the pool's feature mean and std
    Z: np.ndarray                   # standardised features
    pred: dict                      # the champion's {target: {"value", "lo", "hi"}}
    members: dict[str, np.ndarray]  # its weighted members' predictions [n, T]
    targets: tuple[str, ...]
    spread: np.ndarray | None = None           # the correction committee's spread [n, T] on each target's scale
    served_on_scale: np.ndarray | None = None  # served values [n, T] on the same scales


def measured_reference(measured: Sequence[tuple[str, str]], tables: Any, ctx: Any) -> tuple[set[str], np.ndarray]:
    """Ids (as logged and canonical) and standardisable features of the measured recipes; unparseable specs
    (ingestion validated them, a changed inventory may not) only contribute their id."""
    from rexai_assets.gold.features import featurize_recipes
    from rexai_assets.recipes import RecipeCatalog, RecipeError, parse_recipe

    catalog = RecipeCatalog.from_frames(tables.inventory, tables.processes)
    ids, recipes = set(), {}
    for recipe_id, spec in measured:
        ids.add(recipe_id)
        try:
            obj = json.loads(spec)
            obj.pop("recipe_id", None)
            recipe = parse_recipe(obj, catalog)
        except (RecipeError, ValueError, AttributeError):
            continue
        ids.add(recipe.recipe_id)
        recipes[recipe.recipe_id] = recipe
    if not recipes:
        return ids, np.zeros((0, len(ctx.names)))
    return ids, featurize_recipes(list(recipes.values()), tables, ctx).to_numpy(np.float64)


def score_pool(tables: Any, ensemble: Any, cfg: PlanningSettings, candidates: int, batch_kg: float,
               cache: Any = None) -> Pool:
    """Draw the pool and score it with one pass of the ensemble (served values, intervals, members and the
    correction committee's spread), or take those scores from `cache` (models/score_cache.py)."""
    from rexai_assets.gold.features import feature_context
    from rexai_assets.gold.feasible import sample_candidates

    ctx = feature_context(tables)
    if tuple(ctx.names) != tuple(ensemble.feature_names):
        raise PlanningError("the model's feature names/order differ from the current feature contract")
    cands = sample_candidates(ctx, tables.inventory, candidates, cfg.seed, batch_kg)
    targets = tuple(ensemble.target_names)
    pred, members, spread, served = pool_scores(ensemble, cands.X, targets, cache)
    stats = acq.standardiser(cands.X)
    pool = Pool(ctx, cands, stats, acq.standardise(cands.X, stats), pred, members, targets)
    pool.spread, pool.served_on_scale = spread, served
    return pool


def pool_scores(ensemble: Any, X: np.ndarray, targets: tuple[str, ...], cache: Any = None) -> tuple:
    """(predictions, members, committee spread, served on scale) of `X`: stored per (model hash, X) in
    `cache` when one is given and the model's hash is known, so a repeated plan does not load the model."""
    from rexai_assets.models.score_cache import pool_key, prediction_arrays, predictions_from
    from rexai_assets.models.scorer import recorded_model_hash

    model_hash = recorded_model_hash(ensemble) if cache is not None else None
    key = pool_key(model_hash, X) if model_hash else None
    stored = cache.get_arrays(key) if key else None
    pred = predictions_from(stored, targets) if stored is not None else None
    if pred is not None:
        members = {name[len("member."):]: a for name, a in stored.items() if name.startswith("member.")}
        return pred, members, stored.get("spread"), stored.get("served_on_scale")
    pred, members = ensemble.predict_with_members(X)
    spread, served = correction_uncertainty(ensemble, X, pred, members)
    if key:
        arrays = prediction_arrays({t: pred[t] for t in targets})
        arrays.update({f"member.{name}": np.asarray(a) for name, a in members.items()})
        arrays.update({name: a for name, a in (("spread", spread), ("served_on_scale", served)) if a is not None})
        cache.put_arrays(key, arrays)
    return pred, members, spread, served


def correction_uncertainty(ensemble: Any, X: np.ndarray, pred: Mapping[str, Any],
                           members: Mapping[str, np.ndarray]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(committee spread, served values) on each target's correction scale, or (None, None) for a model
    without a measured correction (a rival of another kind, or no measurements yet)."""
    correction = getattr(ensemble, "correction", None)
    if correction is None or not getattr(correction, "committee", None):
        return None, None
    from rexai_assets.models.ensemble import prior_matrix

    targets = tuple(ensemble.target_names)
    prior = prior_matrix(members, ensemble.weights, targets)
    served = np.column_stack([correction.on_scale(np.asarray(pred[t]["value"], float), t) for t in targets])
    return ensemble.correction_spread(X, prior), served


def purpose_scores(pool: Pool, presets: Sequence[Any], coverage: float,
                   rival: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Acquisition per purpose: `explore`, `disagreement` and one `verify:<preset>` per preset."""
    from rexai_assets.models.predictive import p_meets

    scales = acq.target_scales(pool.pred, pool.targets)
    out = {EXPLORE: acq.explore_uncertainty(pool.pred, scales, pool.spread, pool.served_on_scale)}
    served = np.column_stack([pool.pred[t]["value"] for t in pool.targets])
    rivals = [served, rival] if rival is not None else list(pool.members.values())
    if len(rivals) >= 2:
        out[DISAGREEMENT] = acq.disagreement_scores(rivals, scales)
    for preset in presets:
        out[f"{VERIFY}:{preset.name}"] = p_meets(pool.pred, preset, coverage)
    return out


def batch_quotas(n: int, mix: Mapping[str, float], scores: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Experiments per purpose key: the mix over explore / verify / disagreement, verify split evenly over
    the presets; a purpose without scores gives its share to explore."""
    shares = {p: w for p, w in mix.items() if w > 0 and any(k.split(":")[0] == p for k in scores)}
    unscored = sum(w for p, w in mix.items() if w > 0 and p not in shares)
    if unscored > 0 and EXPLORE in scores:
        shares[EXPLORE] = shares.get(EXPLORE, 0.0) + unscored
    if not shares:
        raise PlanningError("no purpose of planning.yaml mix can be scored")
    per_purpose = acq.quotas(n, shares)
    out: dict[str, int] = {}
    for purpose, count in per_purpose.items():
        keys = [k for k in scores if k.split(":")[0] == purpose]
        out.update(acq.quotas(count, {k: 1.0 for k in keys}))
    return out


def demand_positions(pool: Pool, cfg: PlanningSettings) -> np.ndarray:
    """The pool positions explore's coverage is computed over: a seeded sample of `explore.demand_points`."""
    n = len(pool.cands)
    if n <= cfg.explore.demand_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(cfg.seed).choice(n, cfg.explore.demand_points, replace=False))


def eligible_mask(pool: Pool, scores: Mapping[str, np.ndarray], quota: Mapping[str, int], excluded: set[str],
                  cfg: PlanningSettings) -> np.ndarray:
    """True where a recipe may be planned: not measured or planned already. Recipe ids (a sha256 each) are
    computed only where a purpose can reach: its shortlist plus room for every exclusion, and explore's
    demand sample (a second of the 5 s budget otherwise went to hashing 20,000 recipes that no purpose
    would pick)."""
    from rexai_assets.gold.feasible import recipe_records

    reach: set[int] = set(demand_positions(pool, cfg).tolist()) if cfg.explore.coverage else set()
    for key, k in {**quota, EXPLORE: max(quota.get(EXPLORE, 0), sum(quota.values()))}.items():
        reach.update(np.argsort(-scores[key], kind="stable")[:cfg.shortlist_factor * max(k, 1) + len(excluded)].tolist())
    positions = sorted(reach)
    ids = [r["recipe_id"] for r in recipe_records(pool.ctx, pool.cands, positions)]
    mask = np.zeros(len(pool.cands), dtype=bool)
    mask[[i for i, rid in zip(positions, ids) if rid not in excluded]] = True
    return mask


def explore_pick(pool: Pool, scores: Mapping[str, np.ndarray], k: int, picked: list[int], eligible: np.ndarray,
                 measured_Z: np.ndarray, cfg: PlanningSettings) -> list[tuple[int, float]]:
    """Explore's (position, acquisition): weighted coverage of the demand sample (acquisition = the pick's
    coverage gain), or with `explore.coverage` off the most uncertain recipes (acquisition = uncertainty)."""
    chosen: list[tuple[int, float]] = []
    if cfg.explore.coverage:
        demand = demand_positions(pool, cfg)
        covered = np.vstack([measured_Z, pool.Z[picked]]) if picked else measured_Z
        chosen = acq.coverage_pick(scores[EXPLORE], pool.Z, k, demand[eligible[demand]], covered, cfg.min_distance)
        picked.extend(i for i, _ in chosen)
    if len(chosen) < k:  # the demand sample ran out of eligible recipes: the rest by uncertainty
        rest = acq.diverse_pick(scores[EXPLORE], pool.Z, k - len(chosen), cfg.min_distance, picked, eligible,
                                cfg.shortlist_factor * max(k, 1))
        chosen += [(i, float(scores[EXPLORE][i])) for i in rest]
    return chosen


def pick(pool: Pool, scores: Mapping[str, np.ndarray], quota: Mapping[str, int], excluded: set[str],
         measured_X: np.ndarray, cfg: PlanningSettings) -> list[tuple[int, str, float]]:
    """(position, purpose key, acquisition) in pick order; verify first (few, precise), then disagreement,
    then explore, which covers what the others left."""
    eligible = eligible_mask(pool, scores, quota, excluded, cfg)
    measured_Z = acq.standardise(measured_X, pool.stats)
    picked: list[int] = []
    out: list[tuple[int, str, float]] = []
    order = sorted(quota, key=lambda k: ({VERIFY: 0, DISAGREEMENT: 1, EXPLORE: 2}[k.split(":")[0]], k))
    for key in order:
        if key == EXPLORE:
            continue
        chosen = acq.diverse_pick(scores[key], pool.Z, quota[key], cfg.min_distance, picked, eligible,
                                  cfg.shortlist_factor * max(quota[key], 1))
        out += [(i, key, float(scores[key][i])) for i in chosen]
    missing = sum(quota.values()) - len(out)  # explore's quota, plus what a purpose short of candidates left
    if missing > 0 and EXPLORE in scores:
        out += [(i, EXPLORE, v) for i, v in explore_pick(pool, scores, missing, picked, eligible, measured_Z, cfg)]
    return out


def new_plan_id() -> str:
    return f"PL-{now_utc():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"


def assemble(pool: Pool, picks: list[tuple[int, str, float]], version: str | None, config_sha256: str,
             proposal_id: str | None = None) -> Plan:
    from rexai_assets.gold.feasible import recipe_records

    records = recipe_records(pool.ctx, pool.cands, [i for i, _, _ in picks])
    experiments = [PlannedExperiment(
        rec["recipe_id"], rec["recipe"], key, round(value, 6),
        {t: {k: round(float(pool.pred[t][k][i]), 6) for k in ("value", "lo", "hi")} for t in pool.targets})
        for (i, key, value), rec in zip(picks, records)]
    return Plan(new_plan_id(), version, now_utc(), experiments, config_sha256, proposal_id)


def plan_experiments(tables: Any, ensemble: Any, version: str | None, measured: Sequence[tuple[str, str]],
                     planned: set[str], cfg: PlanningSettings, n: int, presets: Sequence[Any],
                     mix: Mapping[str, float] | None = None, rival: Any = None, proposal_id: str | None = None,
                     pool_size: tuple[int, float] | None = None, cache: Any = None) -> Plan:
    """The plan of `n` experiments (see the module docstring); `rival` (another ensemble, e.g. the challenger)
    makes `disagreement` the spread between the two models instead of between the champion's members."""
    from rexai_assets.planning.config import planning_config_sha256, pool_settings

    if n < 1:
        raise PlanningError(f"the number of experiments must be at least 1, got {n}")
    pool = score_pool(tables, ensemble, cfg, *(pool_size or pool_settings()), cache=cache)
    measured_ids, measured_X = measured_reference(measured, tables, pool.ctx)
    rival_values = None
    if rival is not None:
        rival_pred = rival.predict(pool.cands.X)
        rival_values = np.column_stack([rival_pred[t]["value"] for t in pool.targets])
    coverage = float((getattr(ensemble, "metadata", None) or {}).get("coverage_target", 0.95))
    scores = purpose_scores(pool, presets, coverage, rival_values)
    quota = batch_quotas(n, mix or cfg.mix.model_dump(), scores)
    picks = pick(pool, scores, quota, measured_ids | planned, measured_X, cfg)
    if not picks:
        raise PlanningError("every candidate recipe is measured or planned already")
    return assemble(pool, picks, version, planning_config_sha256(), proposal_id)
