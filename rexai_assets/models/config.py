"""Typed view of `config/models.yaml` (read once through `rexai_assets.settings`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from rexai_assets import settings
from rexai_assets.models.correction import CorrectionConfig

CONFIG_FILE = "models.yaml"
MEMBERS = ("forest", "boosting", "tab_transformer")
# What a profile may change: sizes, epochs and threads. Never an interval rule or a check.
PROFILE_SECTIONS = frozenset({"forest", "boosting", "tab_transformer", "autoencoder", "threads", "boosting_threads",
                              "torch_threads"})


class ForestConfig(settings.StrictModel):
    n_estimators: int = 40
    min_samples_leaf: int = 3
    max_features: float = 0.5
    max_samples: float | None = 0.3


class BoostingConfig(settings.StrictModel):
    max_iter: int = 100
    learning_rate: float = 0.1
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0


class TabTransformerConfig(settings.StrictModel):
    enabled: bool = True
    d_model: int = 16
    n_heads: int = 4
    n_layers: int = 2
    ff_dim: int = 32
    dropout: float = 0.0
    epochs: int = 6
    batch_size: int = 256
    learning_rate: float = 0.002
    weight_decay: float = 1e-4
    max_train_rows: int = 8000


class AutoencoderConfig(settings.StrictModel):
    latent_dim: int = 8
    hidden_dim: int = 64
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 0.003
    weight_decay: float = 1e-5


class EnsembleConfig(settings.StrictModel):
    candidates: tuple[Literal["forest", "boosting", "tab_transformer"], ...] = MEMBERS
    method: Literal["inverse_mae", "nnls"] = "inverse_mae"
    recheck_unselected_after: int = Field(3, ge=0)


class HeuristicInterval(settings.StrictModel):
    absolute: dict[str, float] = {"rigidity": 0.25, "tightness": 0.25}
    relative: float = 0.5


class IntervalConfig(settings.StrictModel):
    # Trusted measured rows (per target, outside the golden set) from which a target's intervals are
    # calibrated on measurements alone (cross-conformal); below it, simulation + allowance.
    min_measured_rows: int = 30
    # Simulator-to-reality allowance added to simulation-calibrated intervals: absolute for rigidity and
    # tightness, relative (a factor 1 + value on either side) for the costs. Re-estimated from measurements.
    allowance: dict[str, float] = {"rigidity": 0.25, "tightness": 0.25, "energy_kwh": 1.0, "water_l": 1.0,
                                   "crew_min": 1.0}


class ModelsConfig(settings.StrictModel):
    seed: int = 0
    threads: int = 2
    boosting_threads: int = 1
    torch_threads: int = 1
    coverage_target: float = 0.95
    calibration_fraction: float = 0.5
    forest: ForestConfig = ForestConfig()
    boosting: BoostingConfig = BoostingConfig()
    tab_transformer: TabTransformerConfig = TabTransformerConfig()
    autoencoder: AutoencoderConfig = AutoencoderConfig()
    ensemble: EnsembleConfig = EnsembleConfig()
    correction: CorrectionConfig = CorrectionConfig()
    heuristic_interval: HeuristicInterval = HeuristicInterval()
    intervals: IntervalConfig = IntervalConfig()
    profile: str = "default"
    profiles: dict[str, dict[str, Any]] = {}

    def threads_for(self, member: str) -> int:
        """Threads a member trains with: its own knob, capped by `threads`."""
        own = {"boosting": self.boosting_threads, "tab_transformer": self.torch_threads,
               "autoencoder": self.torch_threads}.get(member, self.threads)
        return max(1, min(own, self.threads))

    def resolved(self, profile: str | None = None) -> "ModelsConfig":
        """This config with the named profile's overrides merged in (`default` = as written)."""
        name = profile or self.profile
        if name == "default":
            return self
        if name not in self.profiles:
            raise settings.ConfigError(f"{CONFIG_FILE}: profile {name!r} is not defined (have: {sorted(self.profiles)})")
        forbidden = sorted(set(self.profiles[name]) - PROFILE_SECTIONS)
        if forbidden:
            raise settings.ConfigError(f"{CONFIG_FILE}: profile {name!r} may only shrink model sizes, not set "
                                       f"{', '.join(forbidden)}")
        data = settings.deep_merge(self.model_dump(), self.profiles[name])
        data["profile"] = name
        return ModelsConfig.model_validate(data)


def models_config(profile: str | None = None) -> ModelsConfig:
    """The models config with its active profile applied."""
    return settings.load(CONFIG_FILE, ModelsConfig).resolved(profile)


def models_config_hash() -> str:
    return settings.config_sha256(CONFIG_FILE)
