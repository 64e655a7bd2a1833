"""Heuristic baseline: a deliberately simple rule set, separate from the simulator.

Used when no model can be loaded (degraded mode) and as the benchmark baseline a trained model
must beat. Costs are the process catalog figures as they stand (per kg processed, nothing for
moisture, regolith heating or rinsing); rigidity and tightness are a per-process base plus a
couple of linear material terms. Deterministic, no noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rexai_assets.gold.contract import TARGETS

# process one-hot column -> (rigidity base, tightness base)
PROCESS_BASE = {
    "proc_P01": (0.15, 0.10),
    "proc_P02": (0.55, 0.45),
    "proc_P03": (0.65, 0.55),
    "proc_P04": (0.30, 0.30),
}


def heuristic_props(features: pd.DataFrame) -> pd.DataFrame:
    """DataFrame[TARGETS] from DataFrame[feature_names] (same index)."""
    f = features
    rigidity = sum(f[col].to_numpy(float) * base[0] for col, base in PROCESS_BASE.items() if col in f)
    tightness = sum(f[col].to_numpy(float) * base[1] for col, base in PROCESS_BASE.items() if col in f)
    rigidity = rigidity + 0.3 * (f["fam_aluminum"] + f["fam_cfrp"]).to_numpy(float) - 0.2 * f["flag_foam"].to_numpy(float)
    tightness = tightness + 0.3 * f["flag_multilayer"].to_numpy(float) - 0.2 * f["flag_textile"].to_numpy(float)
    return pd.DataFrame({
        "rigidity": np.clip(rigidity, 0.0, 1.0),
        "tightness": np.clip(tightness, 0.0, 1.0),
        "energy_kwh": np.maximum(f["proc_energy_kwh_per_kg"].to_numpy(float), 0.0),
        "water_l": np.maximum(f["proc_water_l_per_kg"].to_numpy(float), 0.0),
        "crew_min": np.maximum(f["proc_crew_min_per_batch"].to_numpy(float), 0.0),
    }, index=f.index, columns=list(TARGETS))
