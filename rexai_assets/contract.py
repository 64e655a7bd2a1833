"""The contracts every layer shares, at the bottom of the layer order (no Dagster, no pandas).

- the targets a model predicts (`TARGETS`, `BOUNDED_TARGETS`);
- the recipe contract of DESIGN.md: at most `MAX_ITEMS` waste items whose mass fractions sum to 1
  (within `FRACTION_TOLERANCE`), and a regolith share in [0, `MAX_REGOLITH_FRAC`];
- the feature contract (`config/feature_contract.yaml`): `feature_names()` in their fixed order and
  `feature_order_hash()`, the sha256 of the contract's parsed content (names, order and definitions),
  so a model trained on one contract is refused under another.

Every layer imports these from here; `rexai_assets.gold.contract` re-exports them for older callers.
"""

from __future__ import annotations

from rexai_assets import settings
from rexai_assets.hashing import sha256_json

MAX_ITEMS = 4
MAX_REGOLITH_FRAC = 0.5
FRACTION_TOLERANCE = 1e-3

TARGETS: tuple[str, ...] = ("rigidity", "tightness", "energy_kwh", "water_l", "crew_min")
BOUNDED_TARGETS: tuple[str, ...] = ("rigidity", "tightness")  # in [0, 1]; the others are >= 0

CONTRACT_FILE = "feature_contract.yaml"

# Features computed directly (not from a family, flag or process list of the contract).
FIXED_FEATURES: tuple[str, ...] = (
    "moisture", "difficulty", "bulk_density_kg_m3", "regolith_frac", "ox_stable", "ox_volatile",
    "sheet_density_g_cm3", "sheet_modulus_gpa", "sheet_strength_mpa", "sheet_elongation_pct", "sheet_coverage",
    "proc_energy_kwh_per_kg", "proc_water_l_per_kg", "proc_crew_min_per_batch",
)


class ContractError(ValueError):
    """The feature contract is inconsistent, or does not fit the raw tables."""


class FeatureContract(settings.StrictModel):
    version: int
    families: dict[str, tuple[str, ...]]
    flags: dict[str, str]
    processes: tuple[str, ...]
    volatile_oxides: tuple[str, ...]
    moisture_release: dict[str, float] = {}
    regolith_volatile_release: dict[str, float] = {}
    regolith_density_property: str = "density_bulk"
    features: tuple[str, ...]

    def derivable(self) -> set[str]:
        return {*self.families, *self.flags, *(f"proc_{p}" for p in self.processes), *FIXED_FEATURES}

    def validated(self) -> "FeatureContract":
        names = list(self.features)
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ContractError(f"{CONTRACT_FILE}: feature(s) listed twice: {', '.join(duplicates)}")
        missing = sorted(self.derivable() - set(names))
        unknown = sorted(set(names) - self.derivable())
        if missing or unknown:
            raise ContractError(f"{CONTRACT_FILE}: features list does not match the definitions "
                                f"(not listed: {missing or '-'}; not defined: {unknown or '-'})")
        raw_families = [f for group in self.families.values() for f in group]
        if len(raw_families) != len(set(raw_families)):
            raise ContractError(f"{CONTRACT_FILE}: a raw family appears in two feature families")
        for name, table in (("moisture_release", self.moisture_release),
                            ("regolith_volatile_release", self.regolith_volatile_release)):
            bad = {p: v for p, v in table.items() if p not in self.processes or not 0.0 <= v <= 1.0}
            if bad:
                raise ContractError(f"{CONTRACT_FILE}: {name}: unknown process or share outside [0, 1]: {bad}")
        return self


def load_contract() -> FeatureContract:
    """The validated feature contract (cached by the settings loader)."""
    return settings.load(CONTRACT_FILE, FeatureContract).validated()


def feature_names(contract: FeatureContract | None = None) -> tuple[str, ...]:
    return tuple((contract or load_contract()).features)


def feature_order_hash(contract: FeatureContract | None = None) -> str:
    contract = contract or load_contract()
    return sha256_json(contract.model_dump(mode="json"))
