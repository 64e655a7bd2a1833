"""Which gold rows belong to a habitat, which of them form its golden slice, and which train its adapter.

- A habitat's rows: gold rows whose `habitat` is its id (measured rows only; simulated rows have none).
- Its trusted rows: those from a trusted source (gold.yaml `trusted_sources`); `min_rows` counts them.
- Its golden slice: trusted rows whose recipe hash (gold's salted hash of recipe_id) is below the habitat's
  `golden_share`. The share may not exceed gold's `golden_measured_share` (same hash, lower threshold), so
  the slice lies inside the shared golden set: neither the shared champion nor the adapter ever trains on it.
- Its training rows: every other row of the habitat in `train`, `val` or `golden` (crew feedback with its
  own, lower gold weight). Golden rows above the habitat's share train the adapter: the shared champion
  never saw them. The time-split `test` rows stay held out, as they are for the shared model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rexai_assets import settings
from rexai_assets.habitat_config import AdapterSettings

TRAINING_SPLITS = ("train", "val", "golden")


@dataclass(frozen=True)
class HabitatRows:
    habitat: str
    golden: pd.DataFrame     # the habitat's golden slice (trusted rows only)
    training: pd.DataFrame   # what the adapter learns from
    trusted_rows: int        # every trusted measured row of the habitat in gold

    def enough(self, cfg: AdapterSettings) -> bool:
        return self.trusted_rows >= cfg.min_rows


def check_golden_share(cfg: AdapterSettings, habitat: str) -> None:
    """Refuse a golden share that would reach rows the shared champion trained on (see the module docstring)."""
    from rexai_assets.gold.contract import gold_settings

    limit = gold_settings().splits.golden_measured_share
    if not 0 < cfg.golden_share <= limit:
        raise settings.ConfigError(f"habitats.yaml: {habitat}: golden_share {cfg.golden_share} must be in "
                                   f"(0, gold.yaml splits.golden_measured_share = {limit}]")


def habitat_rows(gold: Any, habitat: str, cfg: AdapterSettings) -> HabitatRows:
    """The habitat's golden slice, training rows and trusted row count (module docstring)."""
    from rexai_assets.gold.contract import gold_settings
    from rexai_assets.gold.splits import hash_unit

    check_golden_share(cfg, habitat)
    frame = gold.frame
    mine = frame[frame["habitat"].astype(object) == habitat] if "habitat" in frame.columns else frame.iloc[:0]
    trusted = mine["label_source"].astype(str).isin(list(gold.trusted_sources)).to_numpy()
    u = hash_unit(mine["recipe_id"], gold_settings().splits.hash_salt) if len(mine) else np.zeros(0)
    golden = trusted & (u < cfg.golden_share)
    # A recipe in the slice is held out with all its rows (crew feedback of it included).
    held_recipes = set(mine.loc[golden, "recipe_id"])
    training = ~mine["recipe_id"].isin(held_recipes).to_numpy() & mine["split"].isin(TRAINING_SPLITS).to_numpy()
    return HabitatRows(habitat, mine[golden].reset_index(drop=True), mine[training].reset_index(drop=True),
                       int(trusted.sum()))
