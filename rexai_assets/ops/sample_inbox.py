"""A few contract-shaped experiment and crew-feedback files, so a check run exercises the observation partitions.

Records follow DESIGN.md ("An experiment record", "A crew feedback record"); recipes use the shipped
waste ids and processes. Labels come from the gold heuristic when that layer provides it (so measured
rows look like plausible measurements), otherwise from a fixed deterministic rule; either way every
target is inside its contract range.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from rexai_assets.atomic import write_with
from rexai_assets.paths import DataLayout

TARGETS = ("rigidity", "tightness", "energy_kwh", "water_l", "crew_min")
ENVIRONMENTS = ("lab", "iss_sim", "analog_field")
# Fixed, past days: the observation partitions of a check run are the same on every machine and date.
FIRST_DAY = datetime(2025, 6, 2, 9, 0, 0)


def sample_recipes(raw_dir: Path, n: int, seed: int) -> list[dict]:
    """`n` valid recipes (1-3 waste items, fractions summing to 1, regolith 0-0.3) from the shipped tables."""
    inventory = pd.read_csv(raw_dir / "nasa_waste_inventory.csv")
    processes = pd.read_csv(raw_dir / "process_catalog.csv")
    id_column = "waste_id" if "waste_id" in inventory.columns else "id"
    waste_ids = sorted(str(w) for w in inventory[id_column].dropna().unique())
    process_ids = sorted(str(p) for p in processes["process_id"].dropna().unique())
    rng = np.random.default_rng(seed)
    recipes = []
    for i in range(n):
        k = int(rng.integers(1, 4))
        items = sorted(rng.choice(waste_ids, size=k, replace=False).tolist())
        # Fractions in 5 % steps so they sum to exactly 1 after rounding.
        cuts = np.sort(rng.choice(np.arange(1, 20), size=k - 1, replace=False)) if k > 1 else np.array([], int)
        steps = np.diff(np.concatenate([[0], cuts, [20]]))
        recipes.append({
            "recipe_id": f"ops-sample-{seed}-{i:03d}",
            "items": [{"waste_id": w, "mass_frac": round(float(s) / 20, 2)} for w, s in zip(items, steps)],
            "process_id": process_ids[i % len(process_ids)],
            "regolith_frac": round(float(rng.choice([0.0, 0.1, 0.2, 0.3])), 2),
        })
    return recipes


def sample_labels(recipes: list[dict], raw_dir: Path, seed: int) -> pd.DataFrame:
    """Plausible target values per recipe (rows aligned with `recipes`)."""
    frame = _heuristic_labels(recipes, raw_dir)
    if frame is None:
        rng = np.random.default_rng(seed)
        n = len(recipes)
        regolith = np.array([r["regolith_frac"] for r in recipes])
        frame = pd.DataFrame({
            "rigidity": np.clip(0.4 + 0.8 * regolith + rng.normal(0, 0.05, n), 0, 1),
            "tightness": np.clip(0.6 - 0.5 * regolith + rng.normal(0, 0.05, n), 0, 1),
            "energy_kwh": 0.5 + 2.0 * regolith + rng.uniform(0, 0.3, n),
            "water_l": rng.uniform(0.0, 0.05, n),
            "crew_min": 5.0 + rng.uniform(0, 10, n),
        })
    return frame.reset_index(drop=True)


def _heuristic_labels(recipes: list[dict], raw_dir: Path) -> pd.DataFrame | None:
    try:
        from rexai_assets.gold.features import featurize_recipes
        from rexai_assets.gold.heuristic import heuristic_props
        from rexai_assets.raw import load_raw_tables
        from rexai_assets.recipes import parse_recipe
    except ImportError:
        return None
    tables = load_raw_tables(raw_dir)
    features = featurize_recipes([parse_recipe(r) for r in recipes], tables)
    props = heuristic_props(features)
    return pd.DataFrame({t: np.asarray(props[t], dtype=float) for t in TARGETS})


def write_sample_inbox(data: DataLayout, days: int = 2, rows_per_day: int = 6, feedback_rows: int = 4,
                       seed: int = 0) -> list[Path]:
    """Write `days` experiment files and one feedback file into the inbox; returns their paths."""
    data.experiments_inbox.mkdir(parents=True, exist_ok=True)
    data.feedback_inbox.mkdir(parents=True, exist_ok=True)
    n = days * rows_per_day
    recipes = sample_recipes(data.raw, n + feedback_rows, seed)
    labels = sample_labels(recipes, data.raw, seed)
    written: list[Path] = []
    for day in range(days):
        started = FIRST_DAY + timedelta(days=day)
        rows = []
        for j in range(rows_per_day):
            i = day * rows_per_day + j
            measured = {t: round(float(labels.at[i, t]), 6) for t in TARGETS}
            measured["chamber_temp_c"] = 21.5
            rows.append({
                "experiment_id": f"ops-exp-{seed}-{i:03d}",
                "recipe_id": recipes[i]["recipe_id"],
                "process_id": recipes[i]["process_id"],
                "recipe_spec": json.dumps(recipes[i], sort_keys=True),
                "environment": ENVIRONMENTS[i % len(ENVIRONMENTS)],
                "operator_id": f"op-{j % 3:02d}",
                "started_at": pd.Timestamp(started + timedelta(minutes=30 * j)),
                "finished_at": pd.Timestamp(started + timedelta(minutes=30 * j + 20)),
                "raw_measurements": json.dumps(measured, sort_keys=True),
                "verdict": "pass",
                "next_actions": "none",
            })
        path = data.experiments_inbox / f"experiments_{started:%Y%m%d}_ops{seed}.parquet"
        write_with(path, lambda tmp, frame=pd.DataFrame(rows): frame.to_parquet(tmp, index=False))
        written.append(path)
    feedback = []
    for j in range(feedback_rows):
        i = n + j
        row = {
            "feedback_id": f"ops-fb-{seed}-{j:03d}",
            "recipe_id": recipes[i]["recipe_id"],
            "recipe_spec": json.dumps(recipes[i], sort_keys=True),
            "habitat": "alpha",
            "operator_id": f"op-{j % 2:02d}",
            "submitted_at": pd.Timestamp(FIRST_DAY + timedelta(days=days, hours=j)),
            "rating": 4,
            "notes": "sample feedback from the ops check run",
        }
        row.update({t: round(float(labels.at[i, t]), 6) for t in ("rigidity", "crew_min")})
        feedback.append(row)
    path = data.feedback_inbox / f"feedback_ops{seed}.parquet"
    write_with(path, lambda tmp, frame=pd.DataFrame(feedback): frame.to_parquet(tmp, index=False))
    written.append(path)
    return written
