"""Typed `config/planning.yaml` (and the share of serving.yaml the planning pool is drawn with)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from rexai_assets import settings

PLANNING_FILE = "planning.yaml"
PURPOSES = ("explore", "verify", "disagreement")


class MixSettings(settings.StrictModel):
    explore: float = 0.5
    verify: float = 0.3
    disagreement: float = 0.2


class ExploreSettings(settings.StrictModel):
    # True: weighted facility-location coverage of the pool (acquisition.coverage_pick); False: the most
    # uncertain recipes in score order (the benchmark's uncertainty-only baseline).
    coverage: bool = True
    # Eligible pool recipes the coverage is computed over (a seeded sample; bounds time and memory).
    demand_points: int = 2000


class RequestTestsSettings(settings.StrictModel):
    min_measured_share: float = 1.0


class PlanningSettings(settings.StrictModel):
    batch_size: int = 50
    seed: int = 20251203
    mix: MixSettings = MixSettings()
    explore: ExploreSettings = ExploreSettings()
    min_distance: float = 0.5
    shortlist_factor: int = 20
    request_tests: RequestTestsSettings = RequestTestsSettings()


def planning_settings() -> PlanningSettings:
    cfg = settings.load(PLANNING_FILE, PlanningSettings)
    shares = cfg.mix.model_dump().values()
    if cfg.batch_size < 1 or cfg.shortlist_factor < 1 or min(shares) < 0 or sum(shares) <= 0:
        raise settings.ConfigError(f"{PLANNING_FILE}: batch_size and shortlist_factor must be >= 1, mix shares >= 0 "
                                   "with a positive sum")
    if cfg.min_distance < 0 or cfg.explore.demand_points < 1 or not 0 < cfg.request_tests.min_measured_share <= 1:
        raise settings.ConfigError(f"{PLANNING_FILE}: min_distance must be >= 0, explore.demand_points >= 1, "
                                   "request_tests.min_measured_share in (0, 1]")
    return cfg


def planning_config_sha256() -> str:
    return settings.config_sha256(PLANNING_FILE)


class _Pool(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    batch_kg: float = 50.0
    candidates: int = 20000


class _ServingPool(BaseModel):
    """The two keys of serving.yaml planning shares with the recommendations (serving validates the rest)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    recommendations: _Pool = _Pool()


def pool_settings() -> tuple[int, float]:
    """(candidates, batch_kg) of serving.yaml: plans are drawn from a pool like the recommendations'."""
    pool = settings.load("serving.yaml", _ServingPool).recommendations
    if pool.candidates < 1 or pool.batch_kg <= 0:
        raise settings.ConfigError("serving.yaml: recommendations: candidates and batch_kg must be positive")
    return pool.candidates, pool.batch_kg
