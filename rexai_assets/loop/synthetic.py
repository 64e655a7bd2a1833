"""Contract-shaped experiment and feedback records for recipes the pool has not seen.

Used by the closed-loop tests and the latency benchmark to feed the inbox exactly as a lab or a crew
would (DESIGN.md record formats), with labels from whatever property model the caller supplies.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Callable

import numpy as np
import pandas as pd

from rexai_assets.contract import TARGETS

LabelModel = Callable[[pd.DataFrame], pd.DataFrame]  # features -> DataFrame[TARGETS]


def fresh_recipes(tables, n: int, seed: int, exclude: set[str] | None = None) -> pd.DataFrame:
    """`n` distinct candidate recipes (ids, specs and features) drawn with their own seed, none in `exclude`."""
    from rexai_assets.gold.candidates import recipe_candidates_pool

    frame = recipe_candidates_pool(tables, size=n + len(exclude or ()), seed=seed)
    if exclude:
        frame = frame[~frame["recipe_id"].isin(exclude)]
    return frame.head(n).reset_index(drop=True)


def noisy_labels(truth: pd.DataFrame, seed: int, relative_noise: float = 0.03) -> pd.DataFrame:
    """Measurement noise: relative for the costs, absolute (scaled) for the 0-1 properties; kept in range."""
    rng = np.random.default_rng(seed)
    noisy = truth.copy()
    for target in TARGETS:
        values = truth[target].to_numpy(float)
        if target in ("rigidity", "tightness"):
            noisy[target] = np.clip(values + rng.normal(0, relative_noise, len(values)), 0, 1)
        else:
            noisy[target] = np.clip(values * (1 + rng.normal(0, relative_noise, len(values))), 0, None)
    return noisy


def experiment_records(recipes: pd.DataFrame, labels: pd.DataFrame, first_day: datetime, per_day: int,
                       environment: str = "lab", prefix: str = "exp") -> pd.DataFrame:
    """One DESIGN.md experiment record per recipe, `per_day` finished per UTC day from `first_day`."""
    rows = []
    spacing = min(10, 24 * 60 // max(per_day, 1))  # minutes between two results: a day's results stay in that day
    for i, recipe in enumerate(recipes.itertuples(index=False)):
        finished = first_day.replace(tzinfo=timezone.utc) + timedelta(days=i // per_day, minutes=spacing * (i % per_day))
        measured = {t: round(float(labels.iloc[i][t]), 6) for t in TARGETS if pd.notna(labels.iloc[i][t])}
        rows.append({
            "experiment_id": f"{prefix}-{i:05d}", "recipe_id": recipe.recipe_id, "process_id": recipe.process_id,
            "recipe_spec": recipe.recipe_spec, "environment": environment, "operator_id": f"operator-{i % 4}",
            "started_at": finished - timedelta(minutes=45), "finished_at": finished,
            "raw_measurements": json.dumps({**measured, "chamber_temp_c": 21.0}, sort_keys=True),
            "verdict": "pass", "next_actions": "repeat with a second batch"})
    return pd.DataFrame(rows)


def feedback_records(recipes: pd.DataFrame, labels: pd.DataFrame, submitted: datetime,
                     prefix: str = "fb") -> pd.DataFrame:
    """One DESIGN.md crew feedback record per recipe, all targets given."""
    frame = pd.DataFrame({
        "feedback_id": [f"{prefix}-{i:05d}" for i in range(len(recipes))],
        "recipe_id": recipes["recipe_id"].to_numpy(), "recipe_spec": recipes["recipe_spec"].to_numpy(),
        "process_id": recipes["process_id"].to_numpy(),
        "habitat": "jezero", "operator_id": [f"crew-{i % 3}" for i in range(len(recipes))],
        "submitted_at": [submitted.replace(tzinfo=timezone.utc) + timedelta(seconds=i) for i in range(len(recipes))],
        "rating": 3, "notes": "measured on the habitat bench"})
    for target in TARGETS:
        frame[target] = labels[target].to_numpy(float)
    return frame


def write_experiments(layout, records: pd.DataFrame) -> list:
    from rexai_assets.observations.inbox import write_experiment_files

    return write_experiment_files(records, layout)


def write_feedback(layout, records: pd.DataFrame):
    from rexai_assets.observations.inbox import write_feedback_file

    return write_feedback_file(records, layout)


def utc_today() -> datetime:
    now = datetime.now(timezone.utc)
    return datetime(now.year, now.month, now.day)
