"""A family of lab realities the platform does not control: property models with random structure per seed.

`make_reality(seed)` draws a "true" property model of the five targets (per kg of product) straight from
the contract features; it never calls, wraps or perturbs the bootstrap simulator. Per seed it draws:

* per process (P01 shred, P02 press-and-heat, P03 sinter with MGS-1, P04 reconfigure) a baseline and a
  set of terms, each an input (structural members, stiffness from the data sheets, binder polymer,
  barrier films, porous textiles, elastomers, foams, moisture, handling difficulty...) passed through a
  randomly chosen shape (linear, saturating, power or logistic) with a random coefficient; some terms
  are dropped at random, the binder's member families are drawn too;
* a regolith curve per process (quadratic with an optimum, saturating then brittle, or a logistic
  window), multiplied by a binder-consolidation factor B / (B + k) in the heated processes, plus a
  regolith x fibre interaction;
* moisture penalties of a random form (linear, quadratic or a hinge);
* heteroscedastic measurement noise (rigidity / tightness: larger near mid-range; energy and crew time:
  relative; water: relative plus a floor) and a per-target missing rate of 1-5 % per record.

The only thing taken from the simulator is the scale of each target: the scores are mapped onto the
simulator's marginal quantiles (SIMULATOR_QUANTILES, with a random jitter), so values stay in the
same physical ranges. A drawn structure is kept only if every target preset of
`raw/targets_presets.json` is met by 1-15 % of a reference pool of random recipes (otherwise the next
sub-seed is drawn): every reality has recipes worth finding, and they are rare.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rexai_assets.gold.contract import TARGETS

PROCESSES = ("P01", "P02", "P03", "P04")
BOUNDED = ("rigidity", "tightness")
COSTS = ("energy_kwh", "water_l", "crew_min")
RESOURCE_CAPS = (("energy_kwh", "max_energy_kwh"), ("water_l", "max_water_l"), ("crew_min", "max_crew_min"))

# Marginal quantiles of the noise-free bootstrap simulator on the 20,000-recipe gold pool (gold.yaml seed):
# the scale every reality is mapped onto (the functional form is the reality's own).
SIMULATOR_QUANTILES: dict[str, dict[str, float]] = {
    "rigidity": {"q05": 0.1183, "q95": 0.8895},
    "tightness": {"q05": 0.0877, "q95": 0.788},
    "energy_kwh": {"q50": 0.5531, "mean": 0.4663},
    "water_l": {"q75": 0.1004, "mean": 0.0338},
    "crew_min": {"q50": 17.2761, "mean": 16.6663},
}
ACCEPT_RATE = (0.01, 0.15)      # share of the reference pool meeting each preset
REFERENCE_SEED, REFERENCE_N = 424242, 6000
MAX_ATTEMPTS = 200

FORMS = ("linear", "saturating", "power", "logistic")


def shape(x: np.ndarray, form: str, a: float) -> np.ndarray:
    """A monotone shape with g(0) = 0 of an input of order 0..1."""
    x = np.clip(np.asarray(x, dtype=float), 0.0, None)
    if form == "linear":
        return x
    if form == "saturating":
        return a * (1.0 - np.exp(-x / a)) / (a * (1.0 - np.exp(-1.0 / a)))
    if form == "power":
        return x ** a
    width = 0.25 * a + 0.03
    return 1.0 / (1.0 + np.exp(-(x - a) / width)) - 1.0 / (1.0 + np.exp(a / width))


def _draw_form(rng: np.random.Generator) -> tuple[str, float]:
    form = FORMS[rng.integers(len(FORMS))]
    param = {"linear": 1.0, "saturating": rng.uniform(0.15, 0.6), "power": rng.uniform(0.5, 1.8),
             "logistic": rng.uniform(0.1, 0.5)}[form]
    return form, float(param)


@dataclass(frozen=True)
class Term:
    input: str
    form: str
    param: float
    coef: float

    def value(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.coef * shape(inputs[self.input], self.form, self.param)

    def text(self) -> str:
        shape_text = self.form if self.form == "linear" else f"{self.form}({self.param:.2f})"
        return f"{self.coef:+.2f}*{shape_text}[{self.input}]"


@dataclass(frozen=True)
class RegolithCurve:
    kind: str          # quadratic | saturating_brittle | logistic_window
    amplitude: float
    optimum: float
    brittleness: float
    binder_k: float    # > 0: consolidation factor B / (B + k); 0: none
    fibre: float       # regolith x fibre interaction coefficient

    def value(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        r, r0 = inputs["regolith"], self.optimum
        if self.kind == "quadratic":
            curve = np.maximum((2 * r * r0 - r ** 2) / r0 ** 2, -2.0)
        elif self.kind == "saturating_brittle":
            excess = np.maximum(0.0, r - r0) / (0.5 - r0 + 0.05)
            curve = (1 - np.exp(-2.5 * r / r0)) - self.brittleness * excess ** 2
        else:
            curve = (1 - np.exp(-2.5 * r / r0)) / (1 + np.exp((r - 1.4 * r0) / 0.04))
        binder = inputs["binder"]
        bind = binder / (binder + self.binder_k) if self.binder_k > 0 else 1.0
        return self.amplitude * curve * bind + self.fibre * r * inputs["fibre"]

    def text(self) -> str:
        bind = f" x B/(B+{self.binder_k:.2f})" if self.binder_k > 0 else ""
        return (f"{self.amplitude:+.2f}*{self.kind}(r*={self.optimum:.2f}){bind} {self.fibre:+.2f}*r*fibre")


@dataclass(frozen=True)
class MoisturePenalty:
    form: str          # linear | quadratic | hinge
    coef: float
    knee: float

    def value(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        m = inputs["moisture"]
        base = {"linear": m, "quadratic": m ** 2 / 0.3, "hinge": np.maximum(0.0, m - self.knee) / 0.2}[self.form]
        return -self.coef * base

    def text(self) -> str:
        return f"-{self.coef:.2f}*{self.form}[moisture{f'>{self.knee:.2f}' if self.form == 'hinge' else ''}]"


@dataclass(frozen=True)
class ProcessModel:
    base: float
    terms: tuple[Term, ...]
    regolith: RegolithCurve | None = None
    moisture: MoisturePenalty | None = None
    multiplier: Term | None = None   # costs: base x (1 + multiplier)

    def value(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        out = np.full(len(inputs["regolith"]), self.base, dtype=float)
        if self.multiplier is not None:
            out = out * (1.0 + self.multiplier.value(inputs))
        for term in self.terms:
            out = out + term.value(inputs)
        if self.regolith is not None:
            out = out + self.regolith.value(inputs)
        if self.moisture is not None:
            out = out + self.moisture.value(inputs)
        return out

    def text(self) -> str:
        parts = [f"{self.base:.2f}" + (f" x (1 {self.multiplier.text()})" if self.multiplier else "")]
        parts += [t.text() for t in self.terms]
        parts += [p.text() for p in (self.regolith, self.moisture) if p is not None]
        return " ".join(parts)


# ---------------------------------------------------------------------------------------------
# Inputs: contract features turned into physical quantities of order 0..1


def model_inputs(features: pd.DataFrame, binder_families: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The quantities the reality's terms act on, derived from the raw contract features only."""
    f = {c: features[c].to_numpy(float) for c in features.columns if pd.api.types.is_numeric_dtype(features[c])}
    coverage = np.clip(f["sheet_coverage"], 0.0, 1.0)
    textile = np.clip(f["flag_textile"], 0.0, 1.5)
    return {
        "cfrp": f["fam_cfrp"], "aluminum": f["fam_aluminum"], "nomex": f["fam_nomex"], "nitrile": f["fam_nitrile"],
        "cotton": f["fam_cotton"], "pvdf": f["fam_pvdf"], "evoh": np.clip(f["fam_evoh"] / 0.11, 0.0, 1.0),
        "binder": sum(f[name] for name in binder_families),
        "multilayer": np.clip(f["flag_multilayer"], 0.0, 1.0), "textile": textile, "foam": f["flag_foam"],
        "moisture": np.clip(f["moisture"], 0.0, 1.5),
        "stiffness": np.log1p(np.clip(f["sheet_modulus_gpa"], 0.0, None)) / np.log1p(9.05) * coverage,
        "strength": np.clip(f["sheet_strength_mpa"], 0.0, None) / 442.0 * coverage,
        "elongation": np.clip(f["sheet_elongation_pct"], 0.0, None) / 318.0 * coverage,
        "lowdens": np.clip(60.0 / np.maximum(f["bulk_density_kg_m3"], 10.0), 0.0, 3.0) / 3.0,
        "difficulty": np.clip((f["difficulty"] - 0.5) / 2.5, 0.0, 2.0),
        "regolith": np.clip(f["regolith_frac"], 0.0, 0.5),
        "fibre": np.clip(textile + f["fam_nomex"] + f["fam_cfrp"], 0.0, 1.5),
        "tough": f["fam_nomex"] + f["fam_cfrp"] + f["fam_aluminum"],
    }


# ---------------------------------------------------------------------------------------------
# The random structure: ranges of each term's coefficient per process

Ranges = dict[str, tuple[float, float]]
PROPERTY_SPACE: dict[str, dict[str, Any]] = {
    "rigidity": {
        "base": {"P01": (-2.6, -1.8), "P02": (-0.8, 0.2), "P03": (-1.0, 0.0), "P04": (-1.4, -0.6)},
        "terms": {"cfrp": (1.5, 3.5), "aluminum": (1.0, 3.0), "stiffness": (0.3, 1.5), "nitrile": (-2.0, -0.8),
                  "foam": (-1.8, -0.5), "elongation": (-1.0, 0.0), "lowdens": (-1.0, 0.0)},
        "extra": {"P02": {"binder": (1.2, 3.0)}, "P03": {"binder": (0.8, 2.5)},
                  "P04": {"nomex": (0.5, 1.5), "textile": (-0.6, 0.6), "strength": (0.2, 1.0)}},
        "regolith": {"P01": (0.0, 0.4), "P02": (0.4, 2.0), "P03": (1.5, 3.5), "P04": (-0.3, 0.6)},
        "moisture": (0.5, 2.5),
    },
    "tightness": {
        "base": {"P01": (-2.6, -2.0), "P02": (-1.0, 0.0), "P03": (-0.8, 0.2), "P04": (-1.3, -0.5)},
        "terms": {"multilayer": (1.0, 2.5), "evoh": (0.5, 2.5), "pvdf": (-0.5, 1.0), "textile": (-2.0, -0.8),
                  "cotton": (-1.0, -0.2), "foam": (-1.0, 0.8), "aluminum": (-0.5, 1.0)},
        "extra": {"P02": {"binder": (1.0, 3.0)}, "P03": {"binder": (1.0, 2.5)}, "P04": {"nomex": (0.5, 1.8)}},
        "regolith": {"P01": (-0.3, 0.2), "P02": (-2.5, -0.5), "P03": (1.0, 3.0), "P04": (-0.5, 0.3)},
        "moisture": (0.3, 2.0),
    },
    "energy_kwh": {
        "base": {"P01": (0.08, 0.18), "P02": (0.45, 0.75), "P03": (0.55, 0.9), "P04": (0.03, 0.09)},
        "extra": {"P01": {"tough": (0.1, 0.45), "lowdens": (0.0, 0.1)},
                  "P02": {"moisture": (0.6, 0.95), "foam": (0.05, 0.25), "regolith": (0.05, 0.3), "tough": (0.1, 0.4),
                          "lowdens": (0.0, 0.15)},
                  "P03": {"regolith": (0.2, 0.8), "moisture": (0.6, 0.95), "binder": (0.0, 0.2), "tough": (0.1, 0.4)},
                  "P04": {"difficulty": (0.01, 0.06), "aluminum": (0.0, 0.1)}},
    },
    "water_l": {
        "base": {"P01": (0.0, 0.01), "P02": (0.0, 0.02), "P03": (0.06, 0.14), "P04": (0.0, 0.005)},
        "extra": {"P01": {"multilayer": (0.0, 0.08)}, "P02": {"multilayer": (0.0, 0.05)},
                  "P03": {"regolith": (0.05, 0.2), "cotton": (0.0, 0.1), "multilayer": (0.0, 0.05)},
                  "P04": {"textile": (0.0, 0.04)}},
    },
    "crew_min": {
        "base": {"P01": (4.0, 8.0), "P02": (13.0, 22.0), "P03": (18.0, 28.0), "P04": (8.0, 15.0)},
        "extra": {"P01": {"multilayer": (1.0, 4.0), "tough": (0.0, 3.0)},
                  "P02": {"multilayer": (0.0, 3.0), "foam": (0.0, 3.0)},
                  "P03": {"regolith": (4.0, 14.0), "tough": (0.0, 3.0)},
                  "P04": {"textile": (2.0, 6.0), "nomex": (0.0, 4.0)}},
        "multiplier": (0.1, 0.4),
    },
}
P01_DAMPING = (0.1, 0.35)   # shredded flakes are loose: material terms barely matter
DROP_TERM = 0.2


def _terms(rng: np.random.Generator, ranges: Ranges, scale: float = 1.0) -> tuple[Term, ...]:
    terms = []
    for name, (lo, hi) in ranges.items():
        if rng.random() < DROP_TERM:
            continue
        form, param = _draw_form(rng)
        terms.append(Term(name, form, param, float(scale * rng.uniform(lo, hi))))
    return tuple(terms)


def _regolith_curve(rng: np.random.Generator, amplitude: float, heated: bool) -> RegolithCurve:
    kinds = ("quadratic", "saturating_brittle", "logistic_window")
    kind = kinds[rng.integers(3)] if amplitude > 0 else "saturating_brittle"
    return RegolithCurve(kind=kind, amplitude=float(amplitude), optimum=float(rng.uniform(0.12, 0.4)),
                         brittleness=float(rng.uniform(0.5, 2.0)) if amplitude > 0 else 0.0,
                         binder_k=float(rng.uniform(0.05, 0.3)) if heated and rng.random() < 0.8 else 0.0,
                         fibre=float(rng.uniform(-1.5, 2.0)) if rng.random() < 0.5 else 0.0)


def _bounded_models(rng: np.random.Generator, space: dict[str, Any]) -> dict[str, ProcessModel]:
    models = {}
    for process in PROCESSES:
        damping = rng.uniform(*P01_DAMPING) if process == "P01" else 1.0
        ranges = {**space["terms"], **space["extra"].get(process, {})}
        moisture = MoisturePenalty(("linear", "quadratic", "hinge")[rng.integers(3)],
                                   float(damping * rng.uniform(*space["moisture"])), float(rng.uniform(0.05, 0.3)))
        models[process] = ProcessModel(
            base=float(rng.uniform(*space["base"][process])), terms=_terms(rng, ranges, damping),
            regolith=_regolith_curve(rng, float(rng.uniform(*space["regolith"][process])), process in ("P02", "P03")),
            moisture=moisture)
    return models


def _cost_models(rng: np.random.Generator, space: dict[str, Any]) -> dict[str, ProcessModel]:
    models = {}
    for process in PROCESSES:
        multiplier = None
        if "multiplier" in space:
            form, param = _draw_form(rng)
            multiplier = Term("difficulty", form, param, float(rng.uniform(*space["multiplier"])))
        models[process] = ProcessModel(base=float(rng.uniform(*space["base"][process])),
                                       terms=_terms(rng, space["extra"][process]), multiplier=multiplier)
    return models


def _noise(rng: np.random.Generator) -> dict[str, float]:
    return {"bounded_floor": rng.uniform(0.005, 0.015), "bounded_mid": rng.uniform(0.02, 0.05),
            "energy_rel": rng.uniform(0.03, 0.07), "crew_rel": rng.uniform(0.03, 0.07),
            "water_rel": rng.uniform(0.03, 0.08), "water_abs": rng.uniform(0.001, 0.004),
            "missing_rate": rng.uniform(0.01, 0.05)}


# ---------------------------------------------------------------------------------------------
# A reality


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40.0, 40.0)))


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


@dataclass
class Reality:
    """A lab reality: noise-free truth and noisy, partly missing measurements of the five targets."""

    seed: int
    attempt: int
    binder_families: tuple[str, ...]
    models: dict[str, dict[str, ProcessModel]]
    calibration: dict[str, tuple[float, float]] = field(default_factory=dict)  # bounded: logit a, b; costs: scale
    noise: dict[str, float] = field(default_factory=dict)

    def scores(self, features: pd.DataFrame) -> dict[str, np.ndarray]:
        """Uncalibrated per-target scores (the process one-hot selects each row's process model)."""
        inputs = model_inputs(features, self.binder_families)
        onehot = {p: features[f"proc_{p}"].to_numpy(float) for p in PROCESSES}
        return {t: sum(onehot[p] * self.models[t][p].value(inputs) for p in PROCESSES) for t in TARGETS}

    def truth(self, features: pd.DataFrame) -> pd.DataFrame:
        """Noise-free values: rigidity, tightness in [0, 1]; energy_kwh, water_l, crew_min >= 0 per kg of product."""
        raw = self.scores(features)
        out = {}
        for target in TARGETS:
            a, b = self.calibration.get(target, (1.0, 0.0))
            out[target] = _sigmoid(a * raw[target] + b) if target in BOUNDED else np.maximum(a * raw[target], 0.0)
        return pd.DataFrame(out, columns=list(TARGETS), index=features.index)

    def noise_sd(self, truth: pd.DataFrame) -> pd.DataFrame:
        """Measurement standard deviation per value (heteroscedastic; log-scale sd for energy and crew time)."""
        n = self.noise
        sd = {t: n["bounded_floor"] + n["bounded_mid"] * 4.0 * truth[t] * (1.0 - truth[t]) for t in BOUNDED}
        sd["energy_kwh"] = pd.Series(n["energy_rel"], index=truth.index)
        sd["crew_min"] = pd.Series(n["crew_rel"], index=truth.index)
        sd["water_l"] = n["water_rel"] * truth["water_l"] + n["water_abs"]
        return pd.DataFrame(sd, columns=list(TARGETS))

    def measure(self, features: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """Noisy lab measurements; each target is missing (NaN) in a record with the reality's missing rate
        (never all five at once)."""
        truth = self.truth(features)
        sd = self.noise_sd(truth)
        z = rng.standard_normal((len(truth), len(TARGETS)))
        out = truth.copy()
        for j, target in enumerate(TARGETS):
            value, noise = truth[target].to_numpy(float), sd[target].to_numpy(float) * z[:, j]
            if target in BOUNDED:
                out[target] = np.clip(value + noise, 0.0, 1.0)
            elif target == "water_l":
                out[target] = np.maximum(value + noise, 0.0)
            else:
                out[target] = value * np.exp(noise)
        missing = rng.random((len(truth), len(TARGETS))) < self.noise["missing_rate"]
        keep = rng.integers(0, len(TARGETS), len(truth))
        missing[missing.all(axis=1), keep[missing.all(axis=1)]] = False
        return out.mask(missing)

    def describe(self) -> str:
        """A short account of the drawn structure."""
        n = self.noise
        lines = [f"reality {self.seed} (draw {self.attempt}): binder {'+'.join(self.binder_families)}; noise "
                 f"0-1 sd {n['bounded_floor']:.3f}+{n['bounded_mid']:.3f}x4y(1-y), energy {n['energy_rel']:.0%}, "
                 f"crew {n['crew_rel']:.0%}, water {n['water_rel']:.0%}+{n['water_abs']:.3f}; "
                 f"missing {n['missing_rate']:.1%} per target"]
        for target in TARGETS:
            cells = []
            for p in PROCESSES:
                model = self.models[target][p]
                forms = sorted({t.form for t in model.terms})
                reg = f", regolith {model.regolith.kind}(r*={model.regolith.optimum:.2f})" if model.regolith else ""
                cells.append(f"{p} {len(model.terms)} terms [{'/'.join(forms)}]{reg}")
            lines.append(f"  {target}: " + "; ".join(cells))
        return "\n".join(lines)

    def formulas(self) -> str:
        """Every term of every process model (long)."""
        return "\n".join(f"{t} {p}: {self.models[t][p].text()}" for t in TARGETS for p in PROCESSES)


# ---------------------------------------------------------------------------------------------
# Presets met in a reality


def meets_preset(values: pd.DataFrame, preset: Any) -> np.ndarray:
    """rigidity >= required, tightness >= required, every resource <= its cap."""
    ok = (values["rigidity"].to_numpy(float) >= float(preset["rigidity"])) & (
        values["tightness"].to_numpy(float) >= float(preset["tightness"]))
    for resource, cap in RESOURCE_CAPS:
        ok &= values[resource].to_numpy(float) <= float(preset[cap])
    return ok


def resource_load(values: pd.DataFrame, preset: Any) -> np.ndarray:
    """Mean over energy, water and crew time of value / cap (unit-free)."""
    return np.mean([values[r].to_numpy(float) / float(preset[cap]) for r, cap in RESOURCE_CAPS], axis=0)


def shortfall(values: pd.DataFrame, preset: Any) -> np.ndarray:
    """How far a recipe misses a preset: requirement gaps plus relative cap excesses (0 when it meets it)."""
    gap = (np.maximum(0.0, float(preset["rigidity"]) - values["rigidity"].to_numpy(float))
           + np.maximum(0.0, float(preset["tightness"]) - values["tightness"].to_numpy(float)))
    for resource, cap in RESOURCE_CAPS:
        gap += np.maximum(0.0, values[resource].to_numpy(float) / float(preset[cap]) - 1.0)
    return gap


def preset_rates(values: pd.DataFrame, presets: pd.DataFrame) -> dict[str, float]:
    return {str(row["name"]): float(meets_preset(values, row).mean()) for _, row in presets.iterrows()}


# ---------------------------------------------------------------------------------------------
# Drawing a reality


@functools.lru_cache(maxsize=1)
def reference_set() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(features of a fixed reference pool of random recipes, target presets), from the shipped raw tables."""
    from rexai_assets.gold.candidates import recipe_candidates_pool
    from rexai_assets.gold.contract import feature_names
    from rexai_assets.paths import SHIPPED_RAW_DIR
    from rexai_assets.raw.tables import load_raw_tables

    tables = load_raw_tables(SHIPPED_RAW_DIR)
    pool = recipe_candidates_pool(tables, size=REFERENCE_N, seed=REFERENCE_SEED)
    return pool[list(feature_names())].reset_index(drop=True), tables.presets.reset_index(drop=True)


COST_JITTER = {"energy_kwh": (0.85, 1.2), "water_l": (0.8, 1.25), "crew_min": (0.9, 1.12)}


def calibrate(reality: Reality, features: pd.DataFrame, rng: np.random.Generator) -> Reality:
    """Map the scores onto the simulator's marginal scale (quantiles / means), jittered per reality."""
    raw = reality.scores(features)
    for target in BOUNDED:
        q = SIMULATOR_QUANTILES[target]
        low, high = _logit(q["q05"]) + rng.normal(0, 0.25), _logit(q["q95"]) + rng.normal(0, 0.25)
        s05, s95 = np.quantile(raw[target], [0.05, 0.95])
        a = (high - low) / max(s95 - s05, 1e-6)
        reality.calibration[target] = (float(a), float(low - a * s05))
    for target in COSTS:
        goal = SIMULATOR_QUANTILES[target]["mean"] * rng.uniform(*COST_JITTER[target])
        reality.calibration[target] = (float(goal / max(float(np.mean(raw[target])), 1e-9)), 0.0)
    return reality


def draw_reality(seed: int, attempt: int, features: pd.DataFrame) -> Reality:
    """One random structure (not yet checked against the presets)."""
    rng = np.random.default_rng([seed, attempt])
    optional = [name for name in ("fam_evoh", "fam_pvdf", "fam_pet", "fam_nylon") if rng.random() < 0.4]
    models = {t: _bounded_models(rng, PROPERTY_SPACE[t]) if t in BOUNDED else _cost_models(rng, PROPERTY_SPACE[t])
              for t in TARGETS}
    reality = Reality(seed=seed, attempt=attempt, binder_families=("fam_polyethylene", *optional), models=models,
                      noise={k: float(v) for k, v in _noise(rng).items()})
    return calibrate(reality, features, rng)


def make_reality(seed: int, reference: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> Reality:
    """The reality of `seed`: the first draw whose presets are each met by 1-15 % of the reference pool."""
    features, presets = reference or reference_set()
    for attempt in range(MAX_ATTEMPTS):
        reality = draw_reality(seed, attempt, features)
        rates = preset_rates(reality.truth(features), presets)
        if all(ACCEPT_RATE[0] <= r <= ACCEPT_RATE[1] for r in rates.values()):
            return reality
    raise RuntimeError(f"no reality of seed {seed} meets the preset rates {ACCEPT_RATE} in {MAX_ATTEMPTS} draws")
