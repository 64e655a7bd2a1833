"""Reading a served prediction against a target preset: the presets, and the probability of meeting one.

Moved down from `serving.recommend` (which re-exports every name) so that `planning`, below the
evaluation layer, ranks verification experiments with the same `p_meets` as the recommendations.
Per target the served prediction is a split normal whose central `coverage` interval is [lo, hi];
`p_meets` is the product over the preset's five requirements (targets taken as independent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np
import pandas as pd

RESOURCES = (("energy_kwh", "max_energy_kwh"), ("water_l", "max_water_l"), ("crew_min", "max_crew_min"))
FIT_TARGETS = ("rigidity", "tightness")
ArrayLike = Union[float, Sequence[float], np.ndarray]


class UnknownPreset(ValueError):
    """A target name that is not in raw/targets_presets.json; the message lists the valid names."""


# ---------------------------------------------------------------------------------------------
# Presets


@dataclass(frozen=True)
class Preset:
    name: str
    rigidity: float
    tightness: float
    max_water_l: float
    max_energy_kwh: float
    max_crew_min: float

    def cap(self, resource: str) -> float:
        return float(getattr(self, dict(RESOURCES)[resource]))


def preset_from_frame(presets: pd.DataFrame, name: str) -> Preset:
    names = [str(n) for n in presets["name"]]
    if name not in names:
        raise UnknownPreset(f"unknown target {name!r}; valid targets: {', '.join(names)}")
    row = presets[presets["name"].astype(str) == name].iloc[0]
    return Preset(name, *(float(row[c]) for c in ("rigidity", "tightness", "max_water_l", "max_energy_kwh", "max_crew_min")))



def interval_z(coverage: float) -> float:
    """The standard normal quantile of (1 + coverage) / 2: 1.96 for a 95 % interval."""
    from scipy.special import ndtri

    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must be in (0, 1), got {coverage!r}")
    return float(ndtri((1.0 + coverage) / 2.0))


def prob_at_least(value: ArrayLike, lo: ArrayLike, hi: ArrayLike, threshold: ArrayLike,
                  coverage: float = 0.95) -> np.ndarray:
    """P(Y >= threshold) for Y split normal: median `value`, sd `(value - lo) / z` below it and
    `(hi - value) / z` above it, z = `interval_z(coverage)`, so [lo, hi] is its central `coverage` interval.

    A side of zero width is a point mass at `value` (a zero-width interval gives 1 if value >= threshold,
    else 0). A value outside [lo, hi] (e.g. bounds clipped to [0, 1] but the value not) is moved to the
    nearest bound. NaN anywhere gives 0 (the requirement cannot be shown to be met)."""
    from scipy.special import ndtr

    value, lo, hi, threshold = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (value, lo, hi, threshold)))
    median = np.minimum(np.maximum(value, lo), hi)
    gap = threshold - median                            # > 0: the threshold lies above the median
    below = gap <= 0
    width = np.maximum(np.where(below, median - lo, hi - median), 0.0)   # the half the threshold falls in
    spread = width > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        p = ndtr(-gap * interval_z(coverage) / np.where(spread, width, 1.0))
    return np.where(spread, p, np.where(below, 1.0, 0.0))


def prob_at_most(value: ArrayLike, lo: ArrayLike, hi: ArrayLike, cap: ArrayLike, coverage: float = 0.95) -> np.ndarray:
    """P(Y <= cap) for the split normal of `prob_at_least` (the same function on -Y)."""
    return prob_at_least(-np.asarray(value, dtype=float), -np.asarray(hi, dtype=float), -np.asarray(lo, dtype=float),
                         -np.asarray(cap, dtype=float), coverage)


def requirement_probabilities(pred: dict[str, dict[str, np.ndarray]], preset: Preset,
                              coverage: float = 0.95) -> dict[str, np.ndarray]:
    """Per requirement of the preset (rigidity, tightness and the three resource caps), P(it is met)."""
    out = {t: prob_at_least(pred[t]["value"], pred[t]["lo"], pred[t]["hi"], getattr(preset, t), coverage)
           for t in FIT_TARGETS}
    out.update({r: prob_at_most(pred[r]["value"], pred[r]["lo"], pred[r]["hi"], preset.cap(r), coverage)
                for r, _ in RESOURCES})
    return out


def p_meets(pred: dict[str, dict[str, np.ndarray]], preset: Preset, coverage: float = 0.95) -> np.ndarray:
    """P(a recipe meets every requirement of the preset): the product over the five requirements, i.e.
    the targets' predictive distributions are treated as independent."""
    return np.prod(np.vstack(list(requirement_probabilities(pred, preset, coverage).values())), axis=0)


def interval_meets(pred: dict[str, dict[str, np.ndarray]], preset: Preset) -> np.ndarray:
    """True where the whole interval meets the preset: lo >= requirement (rigidity, tightness), hi <= cap."""
    ok = np.ones(len(pred["rigidity"]["lo"]), dtype=bool)
    for t in FIT_TARGETS:
        ok &= np.asarray(pred[t]["lo"], dtype=float) >= getattr(preset, t)
    for r, _ in RESOURCES:
        ok &= np.asarray(pred[r]["hi"], dtype=float) <= preset.cap(r)
    return ok
