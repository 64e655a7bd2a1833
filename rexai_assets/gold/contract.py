"""The gold layer's typed configuration (`config/gold.yaml`, `config/date_ranges.yaml`).

The targets and the feature contract live in `rexai_assets.contract` (the bottom of the layer order);
they are re-exported here so that existing callers keep working.
"""

from __future__ import annotations

from datetime import date

from rexai_assets import settings
from rexai_assets.contract import (BOUNDED_TARGETS, CONTRACT_FILE, FIXED_FEATURES, TARGETS,  # noqa: F401 - re-exported
                                   ContractError, FeatureContract, feature_names, feature_order_hash, load_contract)

# ---------------------------------------------------------------------------------------------
# Typed gold configuration (config/gold.yaml, config/date_ranges.yaml)

GOLD_FILE = "gold.yaml"
DATE_RANGES_FILE = "date_ranges.yaml"
CONFIG_FILES = (CONTRACT_FILE, GOLD_FILE, DATE_RANGES_FILE, "ingestion.yaml")
SIMULATED = "simulated"
SPLITS = ("train", "val", "test", "golden")


class RegolithRange(settings.StrictModel):
    min: float = 0.0
    max: float = 0.5
    zero_share: float = 0.0


class CandidateSettings(settings.StrictModel):
    items_per_recipe: tuple[float, ...] = (0.25, 0.35, 0.25, 0.15)
    fraction_step: float = 0.05
    regolith_step: float = 0.01
    regolith: dict[str, RegolithRange] = {}


class SimulatorNoise(settings.StrictModel):
    rigidity_logit: float = 0.15
    tightness_logit: float = 0.15
    energy_rel: float = 0.05
    water_abs: float = 0.004
    crew_rel: float = 0.04


class SimulatorSettings(settings.StrictModel):
    seed: int = 7
    noise: SimulatorNoise = SimulatorNoise()


VERDICTS = ("pass", "fail", "inconclusive")  # DESIGN.md's experiment verdicts


class LabelSettings(settings.StrictModel):
    weights: dict[str, float]
    trusted_sources: tuple[str, ...] = ("lab", "iss_sim", "analog_field")
    # Multiplied into the label-source weight of an experiment row; 0 keeps the row stored but out of training.
    verdict_weights: dict[str, float] = {"pass": 1.0, "fail": 1.0, "inconclusive": 0.0}

    def weight(self, source: str) -> float:
        return float(self.weights[source])

    def verdict_weight(self, verdict: object) -> float:
        """The weight of a verdict; 1 for a row without one (crew feedback, simulated rows)."""
        return float(self.verdict_weights.get(verdict, 1.0)) if isinstance(verdict, str) else 1.0


class SplitSettings(settings.StrictModel):
    simulated_val_share: float = 0.1
    simulated_test_share: float = 0.1
    golden_simulated_share: float = 0.1
    golden_measured_share: float = 0.2
    measured_val_share: float = 0.15
    hash_salt: str = "rexai-gold-v1"
    replay_min_share: float = 0.2


class GoldSettings(settings.StrictModel):
    seed: int = 20250101
    pool_size: int = 20000
    candidates: CandidateSettings = CandidateSettings()
    simulator: SimulatorSettings = SimulatorSettings()
    labels: LabelSettings
    splits: SplitSettings = SplitSettings()

    def validated(self) -> "GoldSettings":
        problems = []
        if self.pool_size < 10:
            problems.append("pool_size must be at least 10")
        probs = self.candidates.items_per_recipe
        if not 1 <= len(probs) <= 4 or any(p < 0 for p in probs) or abs(sum(probs) - 1) > 1e-6:
            problems.append("candidates.items_per_recipe must be 1-4 probabilities summing to 1")
        step = self.candidates.fraction_step
        if not 0 < step <= 0.25 or abs(round(1 / step) * step - 1) > 1e-9:
            problems.append("candidates.fraction_step must divide 1 and be <= 0.25")
        for process, rng in self.candidates.regolith.items():
            if not (0 <= rng.min <= rng.max <= 0.5 and 0 <= rng.zero_share <= 1):
                problems.append(f"candidates.regolith.{process}: need 0 <= min <= max <= 0.5 and zero_share in [0, 1]")
        if self.labels.weights.get(SIMULATED, 0) <= 0 or any(w <= 0 for w in self.labels.weights.values()):
            problems.append("labels.weights must be > 0 and include 'simulated'")
        measured = [w for s, w in self.labels.weights.items() if s != SIMULATED]
        if any(w <= self.labels.weights.get(SIMULATED, 0) for w in measured):
            problems.append("labels.weights: every measured source must weigh more than simulated")
        if "crew_feedback" in self.labels.trusted_sources or SIMULATED in self.labels.trusted_sources:
            problems.append("labels.trusted_sources may list experiment environments only")
        verdicts = self.labels.verdict_weights
        if set(verdicts) != set(VERDICTS) or any(not 0 <= w < float("inf") for w in verdicts.values()):
            problems.append(f"labels.verdict_weights needs a weight >= 0 for each of {', '.join(VERDICTS)}")
        if set(self.labels.trusted_sources) - set(self.labels.weights):
            problems.append("labels.trusted_sources: every trusted source needs a weight")
        s = self.splits
        shares = (s.simulated_val_share, s.simulated_test_share, s.golden_simulated_share, s.golden_measured_share,
                  s.measured_val_share, s.replay_min_share)
        if any(not 0 <= x < 1 for x in shares) or s.simulated_val_share + s.simulated_test_share + s.golden_simulated_share >= 1:
            problems.append("splits: shares must be in [0, 1) and leave room for simulated train rows")
        if s.golden_measured_share + s.measured_val_share >= 1:
            problems.append("splits: golden_measured_share + measured_val_share must leave room for measured train rows")
        if problems:
            raise ContractError(f"{GOLD_FILE}: {problems[0]}")
        return self


class DateRanges(settings.StrictModel):
    train: tuple[tuple[date, date], ...] = ()
    val: tuple[tuple[date, date], ...] = ()
    test: tuple[tuple[date, date], ...] = ()

    def validated(self) -> "DateRanges":
        for name in ("train", "val", "test"):
            for start, end in getattr(self, name):
                if not start < end:
                    raise ContractError(f"{DATE_RANGES_FILE}: {name}: period [{start}, {end}) is empty")
        return self


def gold_settings() -> GoldSettings:
    return settings.load(GOLD_FILE, GoldSettings).validated()


def date_ranges() -> DateRanges:
    return settings.load(DATE_RANGES_FILE, DateRanges).validated()


def config_hash() -> str:
    """One hash over every config file that shapes the gold dataset."""
    return settings.combined_config_hash(list(CONFIG_FILES))
