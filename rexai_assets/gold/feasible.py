"""Inventory-feasible candidates: distinct recipes of the seeded sampler whose production batch fits the inventory.

Moved down from `serving.recommend` (which re-exports every name) so that recommendations and the
experiment plans draw from the same pool: for every waste item,
`batch_kg * (1 - regolith_frac) * mass_frac <= mass_kg` (regolith is not limited).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd


@dataclass
class Candidates:
    item_idx: np.ndarray      # [n, slots], -1 = empty
    item_frac: np.ndarray     # [n, slots]
    process_idx: np.ndarray   # [n]
    regolith: np.ndarray      # [n]
    X: np.ndarray             # [n, n_features] contract order
    drawn: int                # distinct recipes drawn to find these
    mass_rejected: int        # of those, rejected because a batch does not fit the inventory

    def __len__(self) -> int:
        return len(self.process_idx)


def batch_fits_inventory(ctx: Any, mass_kg: np.ndarray, item_idx: np.ndarray, item_frac: np.ndarray,
                         regolith: np.ndarray, batch_kg: float) -> np.ndarray:
    """True where one batch's mass of every waste item is within that item's inventory mass."""
    available = np.append(np.asarray(mass_kg, dtype=float), np.inf)   # empty slot -> unlimited
    idx = np.where(item_idx < 0, len(available) - 1, item_idx)
    needed = batch_kg * (1.0 - regolith)[:, None] * item_frac
    return np.all(needed <= available[idx] + 1e-9, axis=1)


def inventory_mass(ctx: Any, inventory: pd.DataFrame) -> np.ndarray:
    return inventory.set_index(inventory["waste_id"].astype(str))["mass_kg"].reindex(list(ctx.waste_ids)).to_numpy(float)


def sample_candidates(ctx: Any, inventory: pd.DataFrame, n: int, seed: int, batch_kg: float,
                      gold_cfg: Any = None) -> Candidates:
    """`n` distinct candidates whose batch fits the inventory (fewer only if the grid cannot supply them)."""
    from rexai_assets.gold.candidates import sample_distinct
    from rexai_assets.gold.contract import gold_settings
    from rexai_assets.gold.features import features_from_arrays

    gold_cfg = gold_cfg or gold_settings()
    mass = inventory_mass(ctx, inventory)
    draw = n
    arrays, ok = None, None
    for _ in range(8):
        try:
            arrays = sample_distinct(ctx, draw, seed, gold_cfg)
        except ValueError:  # the grid holds fewer distinct recipes than asked: use what it has
            draw = int(draw * 0.7)
            continue
        ok = batch_fits_inventory(ctx, mass, arrays[0], arrays[1], arrays[3], batch_kg)
        if ok.sum() >= n or draw >= 20 * n:
            break
        draw = int(draw * n / max(ok.sum(), 1) * 1.1) + 64
    if arrays is None or ok is None:
        raise ValueError("cannot draw candidate recipes from this inventory and the gold.yaml sampler grid")
    keep = np.flatnonzero(ok)[:n]
    item_idx, item_frac, process_idx, regolith = (a[keep] for a in arrays)
    X = features_from_arrays(ctx, item_idx, item_frac, process_idx, regolith)
    return Candidates(item_idx, item_frac, process_idx, regolith, X, drawn=len(ok), mass_rejected=int((~ok).sum()))


def recipe_records(ctx: Any, cands: Candidates, positions: Sequence[int]) -> list[dict]:
    """recipe_id, canonical spec and a readable label for the given candidate rows."""
    from rexai_assets.recipes import Recipe, default_recipe_id

    out = []
    for i in positions:
        items = tuple((ctx.waste_ids[k], round(float(f), 6))
                      for k, f in zip(cands.item_idx[i], cands.item_frac[i]) if k >= 0)
        process = ctx.process_ids[int(cands.process_idx[i])]
        regolith = round(float(cands.regolith[i]), 6)
        recipe_id = default_recipe_id(items, process, regolith)
        recipe = Recipe(items=items, process_id=process, regolith_frac=regolith, recipe_id=recipe_id)
        label = " + ".join(f"{w} {f:.0%}" for w, f in items) + f" · {process} · regolith {regolith:.0%}"
        out.append({"recipe_id": recipe_id, "recipe": recipe.spec(), "label": label})
    return out
