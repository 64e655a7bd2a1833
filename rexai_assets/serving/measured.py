"""Measured results served beside the predictions: the trusted measurements of a recipe, per target.

The ingestion runs rewrite `<data root>/observations/measured_recipes.parquet` (sums and counts per
recipe content key, label source and verdict; see `observations.measured`), so a measurement is served
as soon as it is ingested, without a retrain, and without opening the warehouse on the serving path.
Here it becomes `{recipe_key: {target: {"value": mean, "n": count}}}` over the trusted label sources of
`config/gold.yaml` and the verdicts whose weight is above 0 (an inconclusive run is not a measurement
anyone should trust). A recipe that trusted measurements show to miss a preset (a mean below a
requirement, or above a cap) never ranks ahead of one that does not (`recommend.rank_candidates`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from rexai_assets.contract import TARGETS

Measured = dict[str, dict[str, dict[str, float]]]   # recipe_key -> target -> {"value", "n"}


def summarise(snapshot: Any, trusted_sources: tuple[str, ...], verdict_weights: Mapping[str, float]) -> Measured:
    """Means and counts per recipe key and target from the snapshot's sums (trusted, weighted verdicts only)."""
    if snapshot is None or len(snapshot) == 0:
        return {}
    weight = snapshot["verdict"].map(lambda v: 1.0 if not isinstance(v, str) else float(verdict_weights.get(v, 1.0)))
    keep = snapshot["label_source"].isin(list(trusted_sources)) & (weight > 0)
    sums = snapshot[keep].groupby("recipe_key", sort=True)[[f"{t}_{s}" for t in TARGETS for s in ("sum", "n")]].sum()
    out: Measured = {}
    for key, row in sums.iterrows():
        cells = {t: {"value": float(row[f"{t}_sum"] / row[f"{t}_n"]), "n": int(row[f"{t}_n"])}
                 for t in TARGETS if row[f"{t}_n"] > 0}
        if cells:
            out[str(key)] = cells
    return out


def load_measured(path: Path, gold_cfg: Any = None) -> Measured:
    """The trusted measured results per recipe key; {} while nothing was ingested."""
    import pandas as pd

    from rexai_assets.gold.contract import gold_settings

    path = Path(path)
    if not path.is_file():
        return {}
    labels = (gold_cfg or gold_settings()).labels
    return summarise(pd.read_parquet(path), tuple(labels.trusted_sources), labels.verdict_weights)


def misses_preset(measured: Mapping[str, Mapping[str, float]] | None, preset: Any) -> bool:
    """Whether trusted measurements show a recipe misses the preset: a requirement (rigidity, tightness)
    above the measured mean, or a cap below it. Unmeasured targets say nothing."""
    if not measured:
        return False
    from rexai_assets.serving.recommend import FIT_TARGETS, RESOURCES

    low = any(t in measured and measured[t]["value"] < getattr(preset, t) for t in FIT_TARGETS)
    high = any(r in measured and measured[r]["value"] > preset.cap(r) for r, _ in RESOURCES)
    return low or high
