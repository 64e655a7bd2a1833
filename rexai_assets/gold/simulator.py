"""Bootstrap simulator: a physically motivated prior for the five targets, per kg of product.

It is a prior, not truth. It labels the candidate pool (`label_source = "simulated"`) so models
can be trained before any experiment exists; measured rows outweigh it as they arrive. It reads
only contract features (so any recipe the platform can featurise can be simulated).

Assumptions
-----------
Processes: P01 shreds at low speed (loose 5-10 mm flakes, no heat); P02 presses at 150 C / 5 bar
(polyethylene and EVOH melt and fuse the laminate, other fibres and films are embedded); P03
consolidates MGS-1 with molten polymer at 300-400 C into a regolith-polymer composite (bound water
leaves, see the feature contract); P04 reconfigures cargo-transfer-bag kits (cutting, sewing,
fitting struts and panels; no heat).

energy_kwh (kWh per kg of product)
    catalog energy per kg processed, divided by the yield (the feature `proc_energy_kwh_per_kg`)
    + evaporating the feed moisture in P02/P03: 0.75 kWh per kg water (latent heat 0.63 kWh/kg at
      ~85 % heater efficiency)
    + P03 heating the regolith to ~350 C: 0.8 kJ/(kg K) x 330 K / 50 % efficiency = 0.15 kWh/kg
    + shredding tough stock before P01/P02/P03 (aramid, carbon composite, aluminium): 0.25 kWh/kg
    + compacting foams in P02/P03: 0.12 kWh/kg of foam items; small P04 cutting/sewing share.
water_l (L per kg of product)
    catalog water per kg processed over the yield (P03 slurry, 0.1 L/kg) + rinsing food residue
    off multilayer food packaging before any shredding process: 0.05 L/kg of those items.
    Evaporated feed water is not credited (it is not reclaimed in these processes).
crew_min (crew minutes per kg of product)
    the catalog's minutes per batch, taking a batch as 1 kg of product, scaled by
    handling difficulty (0.85 + 0.15 x difficulty per kg), + 2 min/kg to separate multilayer
    packaging in P01/P02 and + 3 min/kg to unpick textiles in P04.
rigidity, tightness (0-1)
    logistic of a score. Rigidity grows with structural members (carbon composite, aluminium),
    data-sheet stiffness (log modulus x covered mass), fused binder polymer (PE, EVOH) in P02/P03,
    and regolith filler with an optimum (too much regolith for the binder makes it brittle:
    quadratic term); elastomers (nitrile), foams and wet product lower it; shredded flakes (P01)
    are loose whatever they are made of. Tightness grows with barrier films (multilayer, EVOH,
    fused PE), falls with porous textiles and with filler particles opening leak paths in
    laminates; sintered composites seal best at moderate regolith shares.

Noise: rigidity/tightness get Gaussian noise on the logit scale, energy and crew time a relative
(multiplicative) Gaussian error, water an absolute one; all seeded. With `keys` (e.g. hashes of
recipe ids) a recipe's noise depends only on its id and the seed, so the same recipe gets the
same label whatever else is in the pool. Outputs are clipped to [0, 1] and >= 0.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from rexai_assets.gold.contract import TARGETS, SimulatorNoise

LATENT_HEAT_KWH_PER_KG = 0.75
REGOLITH_HEAT_KWH_PER_KG = 0.15
SHRED_TOUGH_KWH_PER_KG = 0.25
FOAM_COMPACTION_KWH_PER_KG = 0.12
RINSE_L_PER_KG = 0.05


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _columns(features: pd.DataFrame | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    if isinstance(features, pd.DataFrame):
        return {c: features[c].to_numpy(float) for c in features.select_dtypes("number").columns}
    return {c: np.asarray(v, dtype=float) for c, v in features.items()}


def physical_model(features: pd.DataFrame | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Noise-free targets plus the logit scores of rigidity and tightness."""
    f = _columns(features)
    p1, p2, p3, p4 = f["proc_P01"], f["proc_P02"], f["proc_P03"], f["proc_P04"]
    heated = p2 + p3
    shredded = p1 + p2 + p3
    r = f["regolith_frac"]
    tough = f["fam_nomex"] + f["fam_cfrp"] + f["fam_aluminum"]
    energy = (f["proc_energy_kwh_per_kg"]
              + heated * LATENT_HEAT_KWH_PER_KG * f["moisture"]
              + p3 * REGOLITH_HEAT_KWH_PER_KG * (f["ox_stable"] + f["ox_volatile"])
              + shredded * SHRED_TOUGH_KWH_PER_KG * tough
              + heated * FOAM_COMPACTION_KWH_PER_KG * f["flag_foam"]
              + p4 * 0.02 * f["difficulty"])
    water = f["proc_water_l_per_kg"] + shredded * RINSE_L_PER_KG * f["flag_multilayer"]
    crew = (f["proc_crew_min_per_batch"] * (0.85 + 0.15 * f["difficulty"])
            + (p1 + p2) * 2.0 * f["flag_multilayer"] + p4 * 3.0 * f["flag_textile"])

    binder = f["fam_polyethylene"] + f["fam_evoh"]
    stiffness = 0.6 * np.log1p(f["sheet_modulus_gpa"]) * f["sheet_coverage"]
    structure = 2.6 * f["fam_cfrp"] + 1.9 * f["fam_aluminum"] + stiffness
    soft = 1.4 * f["fam_nitrile"] + 1.0 * f["flag_foam"] + 1.5 * np.minimum(f["moisture"], 1.0)
    consolidate = np.minimum(1.0, binder / 0.15 + 0.3)  # regolith needs a binder to hold together
    rig = (p1 * (-2.0 + 0.3 * (structure - soft))
           + p2 * (-0.5 + 1.8 * structure - soft + 2.2 * np.minimum(binder, 0.6) + consolidate * (4.0 * r - 6.0 * r**2))
           + p3 * (-0.6 + 0.8 * (structure - soft) + 1.6 * np.minimum(binder, 0.5) + consolidate * (7.5 * r - 8.5 * r**2))
           + p4 * (-1.3 + structure - 0.5 * soft + 0.9 * f["fam_nomex"]))
    barrier = 2.0 * f["flag_multilayer"] + 3.0 * f["fam_evoh"] - 1.5 * f["flag_textile"] - 0.4 * f["fam_cotton"]
    tight = (p1 * (-2.2 + 0.2 * barrier)
             + p2 * (-0.4 + barrier + 2.0 * np.minimum(binder, 0.7) - 2.5 * r - 0.5 * f["flag_foam"])
             + p3 * (-0.7 + 0.6 * barrier + 2.6 * np.minimum(binder, 0.6) + 3.0 * r - 5.0 * r**2)
             + p4 * (-0.8 + 1.1 * f["fam_nomex"] + 0.5 * barrier))
    return {"rigidity_logit": rig, "tightness_logit": tight, "energy_kwh": energy, "water_l": water, "crew_min": crew}


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def keyed_normals(keys: np.ndarray, seed: int, n_streams: int) -> np.ndarray:
    """Standard normals [n, n_streams] that depend only on (key, seed, stream): counter-based, vectorised."""
    keys = np.asarray(keys, dtype=np.uint64)
    out = np.empty((len(keys), n_streams))
    with np.errstate(over="ignore"):
        base = _splitmix64(keys ^ _splitmix64(np.full(len(keys), seed, dtype=np.uint64)))
        for j in range(n_streams):
            a = _splitmix64(base + np.uint64(2 * j + 1))
            b = _splitmix64(base + np.uint64(2 * j + 2))
            u1 = ((a >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
            u2 = (b >> np.uint64(11)).astype(np.float64) / 2.0**53
            out[:, j] = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    return out


def recipe_keys(recipe_ids: pd.Series | np.ndarray) -> np.ndarray:
    """Stable 64-bit keys of recipe ids (pandas' fixed-key hash, identical across runs)."""
    return pd.util.hash_pandas_object(pd.Series(recipe_ids, dtype=object), index=False).to_numpy(np.uint64)


def simulate(features: pd.DataFrame | Mapping[str, np.ndarray], seed: int, noise: SimulatorNoise | None = None,
             keys: np.ndarray | None = None) -> pd.DataFrame:
    """Simulated targets (DataFrame[TARGETS]) with seeded noise; `keys` ties each row's noise to a recipe."""
    noise = noise or SimulatorNoise()
    base = physical_model(features)
    n = len(base["energy_kwh"])
    z = keyed_normals(keys, seed, 5) if keys is not None else np.random.default_rng(seed).standard_normal((n, 5))
    out = pd.DataFrame({
        "rigidity": _sigmoid(base["rigidity_logit"] + noise.rigidity_logit * z[:, 0]),
        "tightness": _sigmoid(base["tightness_logit"] + noise.tightness_logit * z[:, 1]),
        "energy_kwh": base["energy_kwh"] * np.exp(noise.energy_rel * z[:, 2]),
        "water_l": np.maximum(base["water_l"] + noise.water_abs * z[:, 3], 0.0),
        "crew_min": base["crew_min"] * np.exp(noise.crew_rel * z[:, 4]),
    }, columns=list(TARGETS))
    out[["rigidity", "tightness"]] = out[["rigidity", "tightness"]].clip(0.0, 1.0)
    if isinstance(features, pd.DataFrame):
        out.index = features.index
    return out
