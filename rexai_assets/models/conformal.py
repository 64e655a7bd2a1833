"""Conformal 95 % intervals: calibrated on measurements once there are enough, honest about it until then.

Two regimes per target (`TargetInterval.calibrated_on`):

- `measured`: cross-conformal. Every trusted measured row is predicted by a fold model that did not
  train on it (models/correction.py); the half-width is the conformal quantile of those out-of-fold
  residuals on the target's own scale (`TargetScale`: absolute for the 0-1 properties, log for the
  costs, whose errors are relative). Every measured row calibrates; none is set aside.
- `simulated`: split-conformal on normalised residuals |y - mu| / sigma of simulated validation rows
  (sigma = the spread of the forest's trees), widened by a simulator-to-reality allowance on the
  target's scale. The allowance comes from `config/models.yaml` while no trusted measurement exists,
  and is re-estimated from the measurements (the conformal quantile of how far they fall outside the
  simulated interval) as soon as some do.

Quantiles are crepes' `ConformalRegressor` (the finite-sample rank ceil((n+1)(1-alpha))).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np

# sigma is floored at this share of its median on calibration rows: a row on which every tree agrees
# would otherwise get a zero-width interval.
SIGMA_FLOOR_SHARE = 0.05
SIMULATED, MEASURED = "simulated", "measured"


def conformal_quantile(scores: np.ndarray, coverage: float) -> tuple[float, bool]:
    """The finite-sample conformal quantile of non-negative `scores` and whether it is valid.

    Valid needs n >= 1/alpha - 1 rows; with fewer, the largest score is returned and flagged, since
    the guarantee would ask for an infinite interval."""
    from crepes import ConformalRegressor

    scores = np.asarray(scores, dtype=float)
    if scores.size == 0:
        raise ValueError("conformal calibration needs at least one labelled calibration row")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # crepes warns, then answers infinity, when n is too small
        half = ConformalRegressor().fit(scores).predict_int(np.zeros(1), confidence=coverage)[0, 1]
    if not np.isfinite(half):
        return float(scores.max()), False
    return float(half), True


@dataclass(frozen=True)
class NormalisedConformal:
    """Calibrated multiplier `q` for intervals mu ± q · max(sigma, sigma_floor)."""

    q: float
    sigma_floor: float
    coverage_target: float
    n_calibration: int
    valid: bool

    def interval(self, mu: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        half = self.q * np.maximum(np.asarray(sigma, dtype=float), self.sigma_floor)
        mu = np.asarray(mu, dtype=float)
        return mu - half, mu + half

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "NormalisedConformal":
        return cls(**data)


def calibrate(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray, coverage: float) -> NormalisedConformal:
    """Calibrate on labelled rows of (y, mu, sigma); NaN y rows are ignored."""
    y, mu, sigma = (np.asarray(a, dtype=float) for a in (y, mu, sigma))
    labelled = ~np.isnan(y)
    y, mu, sigma = y[labelled], mu[labelled], sigma[labelled]
    if y.size == 0:
        raise ValueError("conformal calibration needs at least one labelled calibration row")
    median = float(np.median(sigma))
    floor = SIGMA_FLOOR_SHARE * median
    if floor <= 0:
        # All trees agree everywhere: fall back to a scale from the residuals themselves.
        floor = max(float(np.std(y - mu)), 1e-9)
    scores = np.abs(y - mu) / np.maximum(sigma, floor)
    q, valid = conformal_quantile(scores, coverage)
    return NormalisedConformal(q=q, sigma_floor=floor, coverage_target=coverage, n_calibration=int(y.size), valid=valid)


@dataclass(frozen=True)
class TargetScale:
    """The scale errors are additive on: y itself (`offset` None) or log(y + offset) for the costs."""

    offset: float | None = None

    def forward(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        return y if self.offset is None else np.log(np.maximum(y, 0.0) + self.offset)

    def inverse(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        return t if self.offset is None else np.exp(t) - self.offset


def allowance_on_scale(share: float, scale: TargetScale) -> float:
    """A configured allowance (absolute, or relative for a log-scale target) as a half-width on the scale."""
    return float(share) if scale.offset is None else math.log1p(float(share))


@dataclass(frozen=True)
class TargetInterval:
    """How one target's served interval is made (see the module docstring)."""

    calibrated_on: str
    coverage_target: float
    scale: TargetScale
    simulated: NormalisedConformal
    allowance: float = 0.0          # on the scale, added to both sides of the simulated interval
    allowance_source: str = "config"
    q_measured: float | None = None  # half-width on the scale, when calibrated on measurements
    n_measured: int = 0
    valid: bool = True

    def interval(self, value: np.ndarray, spread: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) around the served `value`, clipped to the target's physical range [low, high]."""
        value = np.asarray(value, dtype=float)
        if self.calibrated_on == MEASURED:
            lo, hi = measured_bounds(value, self.scale, self.q_measured)
        else:
            lo0, hi0 = self.simulated.interval(value, spread)
            lo = self.scale.inverse(self.scale.forward(np.clip(lo0, low, high)) - self.allowance)
            hi = self.scale.inverse(self.scale.forward(np.clip(hi0, low, high)) + self.allowance)
        return np.clip(lo, low, high), np.clip(hi, low, high)

    def to_dict(self) -> dict:
        return {**asdict(self), "simulated": self.simulated.to_dict(), "scale": {"offset": self.scale.offset}}

    @classmethod
    def from_dict(cls, data: dict) -> "TargetInterval":
        return cls(**{**data, "simulated": NormalisedConformal.from_dict(data["simulated"]),
                      "scale": TargetScale(**data["scale"])})

    def describe(self) -> dict:
        """What a person needs to judge the interval: its source, rows and allowance."""
        return {"calibrated_on": self.calibrated_on, "n_measured": self.n_measured, "valid": self.valid,
                "allowance": None if self.calibrated_on == MEASURED else round(self.allowance, 6),
                "allowance_source": None if self.calibrated_on == MEASURED else self.allowance_source,
                "q_measured": self.q_measured}


def measured_bounds(value: np.ndarray, scale: TargetScale, q: float) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of a measured-calibrated interval: the half-width `q` on both sides of `value` on the scale
    (unclipped; the callers clip to the target's physical range)."""
    centre = scale.forward(value)
    return scale.inverse(centre - q), scale.inverse(centre + q)


def measured_half_width(y: np.ndarray, oof: np.ndarray, scale: TargetScale, coverage: float) -> tuple[float, bool]:
    """Cross-conformal half-width on the scale from out-of-fold predictions of measured rows."""
    return conformal_quantile(np.abs(scale.forward(y) - scale.forward(oof)), coverage)


def sharpest_scale(y: np.ndarray, oof: np.ndarray, scales: list[TargetScale], coverage: float, low: float,
                   high: float) -> tuple[TargetScale, float, bool]:
    """Of the candidate scales, the one whose cross-conformal intervals are narrowest on average over the
    measured rows (all reach the same nominal coverage); its half-width and validity.

    Costs span orders of magnitude with an absolute noise floor (water near zero): a log scale whose
    offset is far below that floor inflates every interval, a plain one ignores that errors grow with
    the value. The measurements choose; with few candidates the choice costs little of the guarantee."""
    best = None
    for scale in scales:
        q, valid = measured_half_width(y, oof, scale, coverage)
        centre = scale.forward(oof)
        width = float(np.mean(np.clip(scale.inverse(centre + q), low, high) - np.clip(scale.inverse(centre - q), low, high)))
        if best is None or width < best[0]:
            best = (width, scale, q, valid)
    return best[1], best[2], best[3]


def measured_allowance(y: np.ndarray, lo: np.ndarray, hi: np.ndarray, scale: TargetScale, coverage: float,
                       configured: float) -> tuple[float, str]:
    """How far measurements fall outside the simulated interval (on the scale), as a conformal quantile.

    With too few rows for a valid quantile the configured allowance is kept unless a measurement
    already shows it too small."""
    if len(y) == 0:
        return configured, "config"
    t = scale.forward(y)
    excess = np.maximum(0.0, np.maximum(scale.forward(lo) - t, t - scale.forward(hi)))
    allowance, valid = conformal_quantile(excess, coverage)
    if not valid:
        return max(configured, allowance), f"config, checked on {len(y)} measured rows"
    return allowance, f"measured ({len(y)} rows)"
