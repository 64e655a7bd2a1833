"""The decision rules that the model checks and the gate share: which slice decides, and when interval
coverage is a problem.

Both the asset checks on `rexai_regressor` and the gate's criteria call these functions on the same
golden rows, so a check and the gate can never judge a challenger on different slices or bounds.
Thresholds come from `config/quality_thresholds.yaml`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from rexai_assets import settings

SIMULATED_SLICE, MEASURED_SLICE = "simulated", "measured"


class QualityThresholds(settings.StrictModel):
    max_relative_regression: dict[str, float]
    # One-sided binomial test: coverage fails when it is significantly below nominal at this level.
    coverage_test_level: float = 0.01
    # The challenger's mean interval width may exceed the champion's by this share on the same rows.
    max_width_increase: float = 0.10
    min_improvement_for_promote: float = 0.01
    min_measured_golden_rows: int = 20
    required_slices: tuple[str, ...] = (SIMULATED_SLICE,)
    min_rows_per_target: int = 5


def quality_thresholds() -> QualityThresholds:
    cfg = settings.load("quality_thresholds.yaml", QualityThresholds)
    if not 0 < cfg.coverage_test_level < 0.5 or cfg.max_width_increase < 0:
        raise settings.ConfigError("quality_thresholds.yaml: coverage_test_level must be in (0, 0.5) and "
                                   "max_width_increase >= 0")
    return cfg


def deciding_slice(measured_rows: int, thresholds: QualityThresholds) -> str:
    """Trusted measured golden rows decide a target once there are enough of them; until then the simulator."""
    return MEASURED_SLICE if measured_rows >= thresholds.min_measured_golden_rows else SIMULATED_SLICE


@dataclass(frozen=True)
class CoverageVerdict:
    """Empirical coverage of `n` rows against the nominal level, as a statistical question."""

    coverage: float
    n: int
    nominal: float
    ci_low: float
    ci_high: float
    p_value: float  # one-sided: P(coverage this low or lower | true coverage = nominal)
    level: float

    @property
    def significantly_below(self) -> bool:
        return self.n > 0 and self.p_value < self.level

    def describe(self) -> str:
        return (f"coverage {self.coverage:.3f} on {self.n} rows (95% CI {self.ci_low:.3f}-{self.ci_high:.3f}; "
                f"one-sided p={self.p_value:.3g} against nominal {self.nominal:.2f}, level {self.level:g})")

    def to_dict(self) -> dict:
        return dict(asdict(self), significantly_below=self.significantly_below)


def coverage_verdict(covered: int, n: int, nominal: float, level: float) -> CoverageVerdict:
    """Binomial test of `covered` of `n` rows inside their intervals, with a Clopper-Pearson 95 % CI."""
    from scipy.stats import binomtest

    if n <= 0:
        return CoverageVerdict(math.nan, 0, nominal, 0.0, 1.0, 1.0, level)
    result = binomtest(int(covered), int(n), nominal, alternative="less")
    ci = binomtest(int(covered), int(n), nominal).proportion_ci(confidence_level=0.95, method="exact")
    return CoverageVerdict(covered / n, int(n), nominal, float(ci.low), float(ci.high), float(result.pvalue), level)


def covered_count(coverage: float, n: int) -> int:
    """Rows inside their interval, from a coverage share and its row count (metrics store the share)."""
    return int(round(coverage * n))
