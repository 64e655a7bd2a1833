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


def score_pool(tables: Any, ensemble: Any, cfg: PlanningSettings, candidates: int, batch_kg: float) -> Pool:
    """Draw the pool and score it with one pass of the ensemble (served values, intervals and members)."""
    from rexai_assets.gold.features import feature_context
    from rexai_assets.gold.feasible import sample_candidates

    ctx = feature_context(tables)
    if tuple(ctx.names) != tuple(ensemble.feature_names):
        raise PlanningError("the model's feature names/order differ from the current feature contract")
    cands = sample_candidates(ctx, tables.inventory, candidates, cfg.seed, batch_kg)
    pred, members = ensemble.predict_with_members(cands.X)
    stats = acq.standardiser(cands.X)
    return Pool(ctx, cands, stats, acq.standardise(cands.X, stats), pred, members, tuple(ensemble.target_names))


def purpose_scores(pool: Pool, measured_X: np.ndarray, presets: Sequence[Any], cfg: PlanningSettings,
                   coverage: float, rival: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Acquisition per purpose: `explore`, `disagreement` and one `verify:<preset>` per preset."""
    from rexai_assets.models.predictive import p_meets

    scales = acq.target_scales(pool.pred, pool.targets)
    novelty = acq.relative_novelty(acq.nearest_distance(pool.Z, acq.standardise(measured_X, pool.stats)))
    out = {EXPLORE: acq.explore_scores(pool.pred, scales, novelty, cfg.novelty_weight)}
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


def eligible_mask(pool: Pool, scores: Mapping[str, np.ndarray], quota: Mapping[str, int], excluded: set[str],
                  cfg: PlanningSettings) -> np.ndarray:
    """True where a recipe may be planned: not measured or planned already. Recipe ids (a sha256 each) are
    computed only where a purpose can reach: its shortlist plus room for every exclusion (a second of the
    5 s budget otherwise went to hashing 20,000 recipes that no purpose would pick)."""
    from rexai_assets.gold.feasible import recipe_records

    reach: set[int] = set()
    for key, k in {**quota, EXPLORE: max(quota.get(EXPLORE, 0), sum(quota.values()))}.items():
        reach.update(np.argsort(-scores[key], kind="stable")[:cfg.shortlist_factor * max(k, 1) + len(excluded)].tolist())
    positions = sorted(reach)
    ids = [r["recipe_id"] for r in recipe_records(pool.ctx, pool.cands, positions)]
    mask = np.zeros(len(pool.cands), dtype=bool)
    mask[[i for i, rid in zip(positions, ids) if rid not in excluded]] = True
    return mask


def pick(pool: Pool, scores: Mapping[str, np.ndarray], quota: Mapping[str, int], excluded: set[str],
         cfg: PlanningSettings) -> list[tuple[int, str]]:
    """(position, purpose key) in pick order; verify first (few, precise), then disagreement, then explore."""
    eligible = eligible_mask(pool, scores, quota, excluded, cfg)
    picked: list[int] = []
    out: list[tuple[int, str]] = []
    order = sorted(quota, key=lambda k: ({VERIFY: 0, DISAGREEMENT: 1, EXPLORE: 2}[k.split(":")[0]], k))
    for key in order:
        chosen = acq.diverse_pick(scores[key], pool.Z, quota[key], cfg.min_distance, picked, eligible,
                                  cfg.shortlist_factor * max(quota[key], 1))
        out += [(i, key) for i in chosen]
    missing = sum(quota.values()) - len(out)
    if missing > 0 and EXPLORE in scores:  # a purpose that ran out of candidates: explore fills in
        out += [(i, EXPLORE) for i in acq.diverse_pick(scores[EXPLORE], pool.Z, missing, cfg.min_distance, picked,
                                                       eligible, cfg.shortlist_factor * missing)]
    return out


def new_plan_id() -> str:
    return f"PL-{now_utc():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"


def assemble(pool: Pool, picks: list[tuple[int, str]], scores: Mapping[str, np.ndarray], version: str | None,
             config_sha256: str, proposal_id: str | None = None) -> Plan:
    from rexai_assets.gold.feasible import recipe_records

    records = recipe_records(pool.ctx, pool.cands, [i for i, _ in picks])
    experiments = [PlannedExperiment(
        rec["recipe_id"], rec["recipe"], key, round(float(scores[key][i]), 6),
        {t: {k: round(float(pool.pred[t][k][i]), 6) for k in ("value", "lo", "hi")} for t in pool.targets})
        for (i, key), rec in zip(picks, records)]
    return Plan(new_plan_id(), version, now_utc(), experiments, config_sha256, proposal_id)


def plan_experiments(tables: Any, ensemble: Any, version: str | None, measured: Sequence[tuple[str, str]],
                     planned: set[str], cfg: PlanningSettings, n: int, presets: Sequence[Any],
                     mix: Mapping[str, float] | None = None, rival: Any = None, proposal_id: str | None = None,
                     pool_size: tuple[int, float] | None = None) -> Plan:
    """The plan of `n` experiments (see the module docstring); `rival` (another ensemble, e.g. the challenger)
    makes `disagreement` the spread between the two models instead of between the champion's members."""
    from rexai_assets.planning.config import planning_config_sha256, pool_settings

    if n < 1:
        raise PlanningError(f"the number of experiments must be at least 1, got {n}")
    pool = score_pool(tables, ensemble, cfg, *(pool_size or pool_settings()))
    measured_ids, measured_X = measured_reference(measured, tables, pool.ctx)
    rival_values = None
    if rival is not None:
        rival_pred = rival.predict(pool.cands.X)
        rival_values = np.column_stack([rival_pred[t]["value"] for t in pool.targets])
    coverage = float((getattr(ensemble, "metadata", None) or {}).get("coverage_target", 0.95))
    scores = purpose_scores(pool, measured_X, presets, cfg, coverage, rival_values)
    quota = batch_quotas(n, mix or cfg.mix.model_dump(), scores)
    picks = pick(pool, scores, quota, measured_ids | planned, cfg)
    if not picks:
        raise PlanningError("every candidate recipe is measured or planned already")
    return assemble(pool, picks, scores, version, planning_config_sha256(), proposal_id)
