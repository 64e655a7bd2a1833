"""Split-conformal intervals on normalised residuals.

Score on calibration rows: s = |y - mu| / sigma, where sigma is a per-row difficulty estimate (the
spread of the forest's trees). With q the ceil((n+1)(1-alpha))-th smallest score, mu ± q·sigma covers a
new exchangeable row with probability >= 1 - alpha (marginally), whatever the quality of mu or sigma;
sigma only makes the band wider where the trees disagree and narrower where they agree.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

# sigma is floored at this share of its median on calibration rows: a row on which every tree agrees
# would otherwise get a zero-width interval.
SIGMA_FLOOR_SHARE = 0.05


def conformal_quantile(scores: np.ndarray, coverage: float) -> tuple[float, bool]:
    """The finite-sample conformal quantile of `scores` and whether it is valid.

    Valid needs n >= 1/alpha - 1 rows; with fewer, the largest score is returned and flagged, since
    the guarantee would ask for an infinite interval.
    """
    scores = np.sort(np.asarray(scores, dtype=float))
    n = scores.size
    if n == 0:
        raise ValueError("conformal calibration needs at least one labelled calibration row")
    rank = math.ceil((n + 1) * coverage)
    if rank > n:
        return float(scores[-1]), False
    return float(scores[rank - 1]), True


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
