"""The candidate pool: a seeded, vectorised sampler of distinct recipes over the inventory.

Each draw picks 1-4 distinct waste items (probabilities in config), waste mass fractions on a grid
of `fraction_step` (every item >= one step, summing to exactly 1), a process uniformly from the
feature contract, and a regolith fraction on a grid of `regolith_step` inside that process's
configured range (or exactly 0 with the configured probability). Duplicates are dropped and
drawing continues until `pool_size` distinct recipes exist; the same seed and raw tables give
the same pool in the same order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rexai_assets.gold.contract import GoldSettings, RegolithRange, gold_settings
from rexai_assets.gold.features import SLOTS, FeatureContext, feature_context, features_from_arrays, slot_columns
from rexai_assets.recipes import Recipe, default_recipe_id


def sample_arrays(ctx: FeatureContext, n: int, rng: np.random.Generator, cfg: GoldSettings
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n random recipes as (item_idx [n, 4], item_frac [n, 4], process_idx [n], regolith [n]); may repeat."""
    c = cfg.candidates
    n_waste = len(ctx.waste_ids)
    probs = np.asarray(c.items_per_recipe, dtype=float)
    k = rng.choice(np.arange(1, len(probs) + 1), size=n, p=probs)
    k = np.minimum(k, n_waste)
    used = np.arange(SLOTS)[None, :] < k[:, None]
    # k distinct items per row: the first k columns of a random permutation, sorted (canonical order).
    chosen = np.argsort(rng.random((n, n_waste)), axis=1)[:, :SLOTS]
    item_idx = np.sort(np.where(used, chosen, n_waste), axis=1)
    item_idx = np.where(item_idx == n_waste, -1, item_idx)
    # k parts of `units` steps, each >= 1: k - 1 distinct cut points in 1..units-1.
    units = int(round(1.0 / c.fraction_step))
    cuts = np.argsort(rng.random((n, units - 1)), axis=1)[:, :SLOTS - 1] + 1
    cuts = np.where(np.arange(SLOTS - 1)[None, :] < (k - 1)[:, None], cuts, units)
    cuts = np.sort(cuts, axis=1)
    parts = np.diff(np.concatenate([np.zeros((n, 1), int), cuts, np.full((n, 1), units)], axis=1), axis=1)
    item_frac = np.round(parts * c.fraction_step, 6)
    process_idx = rng.integers(0, len(ctx.process_ids), size=n)
    regolith = np.zeros(n)
    r_units = rng.random(n)
    zero = rng.random(n)
    step = c.regolith_step
    for p, process in enumerate(ctx.process_ids):
        rule = c.regolith.get(process, RegolithRange())
        rows = process_idx == p
        lo, hi = int(np.ceil(rule.min / step - 1e-9)), int(np.floor(rule.max / step + 1e-9))
        grid = lo + np.floor(r_units[rows] * (hi - lo + 1)).astype(int)
        regolith[rows] = np.where(zero[rows] < rule.zero_share, 0.0, np.round(grid * step, 6))
    return item_idx, item_frac, process_idx, regolith


def distinct_rows(item_idx: np.ndarray, item_frac: np.ndarray, process_idx: np.ndarray, regolith: np.ndarray) -> np.ndarray:
    """Positions of the first occurrence of each distinct recipe, in draw order."""
    key = np.column_stack([item_idx, np.round(item_frac * 1e6).astype(np.int64), process_idx,
                           np.round(regolith * 1e6).astype(np.int64)])
    _, first = np.unique(key, axis=0, return_index=True)
    return np.sort(first)


def sample_distinct(ctx: FeatureContext, n: int, seed: int, cfg: GoldSettings,
                    exclude: set[tuple] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n distinct recipes (index arrays); `exclude` holds recipe keys that must not be drawn."""
    rng = np.random.default_rng(seed)
    parts: list[tuple[np.ndarray, ...]] = []
    have = 0
    for _ in range(50):
        batch = sample_arrays(ctx, max(64, int((n - have) * 1.3) + 64), rng, cfg)
        parts.append(batch)
        merged = tuple(np.concatenate([p[i] for p in parts]) for i in range(4))
        keep = distinct_rows(*merged)
        if exclude:
            keys = recipe_keys(*(a[keep] for a in merged))
            keep = keep[[key not in exclude for key in keys]]
        have = len(keep)
        if have >= n:
            return tuple(a[keep[:n]] for a in merged)  # type: ignore[return-value]
    raise ValueError(f"gold.yaml: cannot draw {n} distinct recipes from this inventory and grid (got {have})")


def recipe_keys(item_idx: np.ndarray, item_frac: np.ndarray, process_idx: np.ndarray, regolith: np.ndarray) -> list[tuple]:
    return [tuple(row) for row in np.column_stack([item_idx, np.round(item_frac * 1e6), process_idx,
                                                   np.round(regolith * 1e6)]).tolist()]


def candidate_frame(ctx: FeatureContext, item_idx: np.ndarray, item_frac: np.ndarray, process_idx: np.ndarray,
                    regolith: np.ndarray) -> pd.DataFrame:
    """Slot layout + recipe_id/recipe_spec (canonical, as `Recipe.to_json`) + features in contract order."""
    waste_ids = np.array(ctx.waste_ids + (None,), dtype=object)
    ids, specs = [], []
    for items_row, frac_row, p, r in zip(item_idx.tolist(), item_frac.tolist(), process_idx.tolist(), regolith.tolist()):
        items = tuple((ctx.waste_ids[i], round(f, 6)) for i, f in zip(items_row, frac_row) if i >= 0)
        process = ctx.process_ids[p]
        recipe_id = default_recipe_id(items, process, r)
        ids.append(recipe_id)
        specs.append(Recipe(items=items, process_id=process, regolith_frac=round(r, 6), recipe_id=recipe_id).to_json())
    frame = pd.DataFrame({
        "recipe_id": ids, "recipe_spec": specs,
        "process_id": np.array(ctx.process_ids, dtype=object)[process_idx],
        "regolith_frac": regolith.astype(float),
        "n_items": (item_idx >= 0).sum(axis=1).astype(int),
    })
    for k in range(SLOTS):
        frame[f"waste_id_{k + 1}"] = waste_ids[np.where(item_idx[:, k] >= 0, item_idx[:, k], len(ctx.waste_ids))]
        frame[f"mass_frac_{k + 1}"] = np.where(item_idx[:, k] >= 0, item_frac[:, k], np.nan)
    features = pd.DataFrame(features_from_arrays(ctx, item_idx, item_frac, process_idx, regolith), columns=list(ctx.names))
    # The recipe's regolith_frac is also a feature (same values): keep one column.
    return pd.concat([frame.drop(columns=[c for c in frame.columns if c in features.columns]), features], axis=1)


def recipe_candidates_pool(tables, cfg: GoldSettings | None = None, ctx: FeatureContext | None = None,
                           size: int | None = None, seed: int | None = None) -> pd.DataFrame:
    """`size` (default: config pool_size) distinct candidate recipes with their features."""
    cfg = cfg or gold_settings()
    ctx = ctx or feature_context(tables)
    arrays = sample_distinct(ctx, size or cfg.pool_size, cfg.seed if seed is None else seed, cfg)
    return candidate_frame(ctx, *arrays)


CANDIDATE_COLUMNS = ["recipe_id", "recipe_spec", "process_id", "regolith_frac", "n_items", *slot_columns()]
