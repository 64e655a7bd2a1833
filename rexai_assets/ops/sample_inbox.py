"""A few contract-shaped experiment and crew-feedback files, so a check run exercises the observation partitions.

Records come from `rexai_assets.loop.synthetic` (DESIGN.md record formats, recipes the pool has not
seen) with noise-free simulator labels, on fixed past days so a check run's partitions are the same
on every machine and date.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from rexai_assets.contract import TARGETS  # noqa: F401 - re-exported for callers checking records
from rexai_assets.paths import DataLayout

ENVIRONMENTS = ("lab", "iss_sim", "analog_field")
FIRST_DAY = datetime(2025, 6, 2, 9, 0, 0)


def write_sample_inbox(data: DataLayout, days: int = 2, rows_per_day: int = 6, feedback_rows: int = 4,
                       seed: int = 0) -> list[Path]:
    """Write `days` experiment files (one environment each) and one feedback file; returns their paths."""
    from rexai_assets.gold.contract import SimulatorNoise, feature_names
    from rexai_assets.gold.simulator import simulate
    from rexai_assets.loop.synthetic import (experiment_records, feedback_records, fresh_recipes, write_experiments,
                                             write_feedback)
    from rexai_assets.raw.tables import load_raw_tables

    recipes = fresh_recipes(load_raw_tables(data.raw), days * rows_per_day + feedback_rows, seed=10_000 + seed)
    quiet = SimulatorNoise(rigidity_logit=0, tightness_logit=0, energy_rel=0, water_abs=0, crew_rel=0)
    labels = simulate(recipes[list(feature_names())], seed=seed, noise=quiet).reset_index(drop=True)
    written: list[Path] = []
    for day in range(days):
        rows = slice(day * rows_per_day, (day + 1) * rows_per_day)
        records = experiment_records(recipes.iloc[rows], labels.iloc[rows], FIRST_DAY + timedelta(days=day),
                                     per_day=rows_per_day, environment=ENVIRONMENTS[day % len(ENVIRONMENTS)],
                                     prefix=f"ops-exp-{seed}-d{day}")
        written += write_experiments(data, records)
    if feedback_rows:
        tail = slice(days * rows_per_day, None)
        written.append(write_feedback(data, feedback_records(recipes.iloc[tail], labels.iloc[tail],
                                                             FIRST_DAY + timedelta(days=days), prefix=f"ops-fb-{seed}")))
    return written
