"""Typed view of `config/habitats.yaml`: the known habitat ids and the adapter settings.

Below every layer (any layer may import it): observations validate record habitats against it, gold
carries the habitat into its rows, models/adapters.py and the habitats layer build and serve adapters.
"""

from __future__ import annotations

import re

from rexai_assets import settings

CONFIG_FILE = "habitats.yaml"
# Ids become partition keys, registered model names (`rexai-habitat-<id>`) and folder names.
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_\-]{0,31}$")


class Habitat(settings.StrictModel):
    id: str
    name: str


class AdapterSettings(settings.StrictModel):
    min_rows: int = 50
    golden_share: float = 0.2
    min_target_rows: int = 30
    # A target is adapted only where the adapter's out-of-fold MAE (in the target's units, on the habitat's
    # trusted rows) is below the shared model's with a one-sided paired t-test p-value under this level.
    gain_test_level: float = 0.05
    residual: settings.ResidualModelSettings = settings.ResidualModelSettings()


class AdapterOverride(settings.StrictModel):
    min_rows: int | None = None
    golden_share: float | None = None
    min_target_rows: int | None = None


class HabitatsConfig(settings.StrictModel):
    habitats: tuple[Habitat, ...] = ()
    adapter: AdapterSettings = AdapterSettings()
    overrides: dict[str, AdapterOverride] = {}

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(h.id for h in self.habitats)

    def name_of(self, habitat: str) -> str:
        return next((h.name for h in self.habitats if h.id == habitat), habitat)

    def adapter_for(self, habitat: str) -> AdapterSettings:
        """The adapter settings of one habitat: the defaults with its overrides."""
        override = self.overrides.get(habitat)
        if override is None:
            return self.adapter
        return self.adapter.model_copy(update={k: v for k, v in override.model_dump().items() if v is not None})


def validate(cfg: HabitatsConfig) -> HabitatsConfig:
    """Refuse ids that cannot be keys, duplicates, overrides of unknown habitats and empty thresholds.
    (The golden share's bound comes from gold.yaml: the habitats layer checks it where it selects the slice.)"""
    where = f"{CONFIG_FILE}:"
    bad = [h.id for h in cfg.habitats if not ID_PATTERN.match(h.id)]
    if bad:
        raise settings.ConfigError(f"{where} habitat id(s) {bad} must be lower-case letters, digits, '-' or '_'")
    if len(set(cfg.ids)) != len(cfg.ids):
        raise settings.ConfigError(f"{where} habitat ids must be unique")
    unknown = sorted(set(cfg.overrides) - set(cfg.ids))
    if unknown:
        raise settings.ConfigError(f"{where} overrides for unknown habitat(s) {unknown}")
    for habitat in cfg.ids:
        adapter = cfg.adapter_for(habitat)
        if not 0 < adapter.gain_test_level < 0.5:
            raise settings.ConfigError(f"{where} {habitat}: gain_test_level must be in (0, 0.5)")
        if not 0 < adapter.golden_share < 1:
            raise settings.ConfigError(f"{where} {habitat}: golden_share must be in (0, 1)")
        if adapter.min_rows < 1 or adapter.min_target_rows < 1:
            raise settings.ConfigError(f"{where} {habitat}: min_rows and min_target_rows must be at least 1")
    return cfg


def habitats_config() -> HabitatsConfig:
    """`config/habitats.yaml`, read once (cached by `settings`) and checked."""
    return validate(settings.load(CONFIG_FILE, HabitatsConfig))


def known_habitats() -> tuple[str, ...]:
    return habitats_config().ids


def habitats_config_hash() -> str:
    return settings.config_sha256(CONFIG_FILE)
