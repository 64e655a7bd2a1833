"""Leak-free splits: time split for observations, hash split for simulated rows, a golden set that never trains.

Rules, applied in this order (u = salted sha256 of recipe_id mapped to [0, 1)):

1. Golden recipes: simulated recipes with u < golden_simulated_share (the fixed simulated slice:
   the pool is seeded and ids are content hashes) and trusted measured recipes with
   u < golden_measured_share (the same unit for every source, so one recipe is golden for all of
   them and the measured slice grows as results arrive).
2. Every row of a golden recipe: trusted measured rows and rows of the fixed simulated slice go to
   `golden`; any other row of it (an untrusted measurement such as crew feedback, or a simulated
   row outside the fixed slice) is dropped, because it could neither train nor enter golden.
3. Other measured rows: split by observed_at (config/date_ranges.yaml; test wins over val, val over
   train); outside every period -> dropped (`out_of_range`). All rows of one recipe follow the
   split of its earliest measurement (including its simulated row), so no recipe straddles
   train and val/test.
   When date_ranges.yaml configures no val period, trusted measured recipes that the time split
   put in train with u in [golden_measured_share, golden_measured_share + measured_val_share) go to
   val instead, so the ensemble is chosen and its intervals calibrated on measurements, not only on
   the simulator.
4. Other simulated rows: by u: [g, g+val) val, [g+val, g+val+test) test, otherwise train.
"""

from __future__ import annotations

import hashlib
from typing import Iterable

import numpy as np
import pandas as pd

from rexai_assets.gold.contract import SIMULATED, DateRanges, GoldSettings

DROPPED = "dropped"


def hash_unit(recipe_ids: Iterable[str], salt: str) -> np.ndarray:
    """Deterministic u in [0, 1) per recipe id (sha256, stable across platforms and library versions)."""
    prefix = salt.encode() + b"\x00"
    return np.array([int.from_bytes(hashlib.sha256(prefix + str(r).encode()).digest()[:8], "big") / 2.0**64
                     for r in recipe_ids], dtype=float)


def time_split(observed_at: pd.Series, ranges: DateRanges) -> np.ndarray:
    """'train' / 'val' / 'test' per timestamp, or None outside every configured period."""
    stamps = pd.to_datetime(observed_at)
    out = np.full(len(stamps), None, dtype=object)
    for name in ("train", "val", "test"):  # later assignments win: test > val > train
        for start, end in getattr(ranges, name):
            inside = ((stamps >= pd.Timestamp(start)) & (stamps < pd.Timestamp(end))).to_numpy()
            out[inside] = name
    return out


def simulated_split(u: np.ndarray, cfg: GoldSettings) -> np.ndarray:
    s = cfg.splits
    g, v, t = s.golden_simulated_share, s.simulated_val_share, s.simulated_test_share
    return np.select([u < g, u < g + v, u < g + v + t], ["golden", "val", "test"], default="train").astype(object)


def assign_splits(rows: pd.DataFrame, cfg: GoldSettings, ranges: DateRanges) -> tuple[np.ndarray, np.ndarray]:
    """(split, drop_reason) per row of a frame with recipe_id, label_source, observed_at, observation_id.

    Dropped rows get split `dropped` and a reason; the others an empty reason.
    """
    n = len(rows)
    source = rows["label_source"].astype(str).to_numpy()
    simulated = source == SIMULATED
    trusted = np.isin(source, list(cfg.labels.trusted_sources))
    u = hash_unit(rows["recipe_id"], cfg.splits.hash_salt)
    sim_golden = simulated & (u < cfg.splits.golden_simulated_share)
    meas_golden = trusted & (u < cfg.splits.golden_measured_share)
    recipe = rows["recipe_id"].astype(str).to_numpy()
    golden_ids = set(recipe[sim_golden | meas_golden])
    in_golden = np.isin(recipe, list(golden_ids)) if golden_ids else np.zeros(n, dtype=bool)

    split = np.full(n, DROPPED, dtype=object)
    reason = np.full(n, "", dtype=object)
    split[in_golden & (sim_golden | trusted)] = "golden"
    reason[in_golden & ~(sim_golden | trusted)] = "golden_recipe"

    measured = ~simulated & ~in_golden
    by_time = time_split(rows["observed_at"], ranges)
    split[measured] = by_time[measured]
    out_of_range = measured & pd.isna(pd.Series(by_time)).to_numpy()
    split[out_of_range] = DROPPED
    reason[out_of_range] = "out_of_range"
    if not ranges.val:
        low = cfg.splits.golden_measured_share
        to_val = trusted & ~in_golden & (split == "train") & (u >= low) & (u < low + cfg.splits.measured_val_share)
        split[to_val] = "val"

    free_sim = simulated & ~in_golden
    split[free_sim] = simulated_split(u[free_sim], cfg)

    # One split per recipe: the split of its earliest in-range measurement.
    placed = measured & ~out_of_range
    if placed.any():
        timeline = pd.DataFrame({"recipe": recipe[placed], "at": pd.to_datetime(rows["observed_at"]).to_numpy()[placed],
                                 "obs": rows["observation_id"].astype(str).to_numpy()[placed], "split": split[placed]})
        first = timeline.sort_values(["recipe", "at", "obs"]).drop_duplicates("recipe").set_index("recipe")["split"]
        follow = (measured & ~out_of_range) | free_sim
        mapped = pd.Series(recipe[follow]).map(first).to_numpy()
        split[follow] = np.where(pd.isna(mapped), split[follow], mapped)
    return split, reason
