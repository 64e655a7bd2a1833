"""The measured-results snapshot that serving reads: sums and counts per recipe, label source and verdict.

Rewritten atomically from `observations.measurements` (+ the experiments' verdicts) by every ingestion
run, so `rexai predict` / `rexai recommend` show a measurement as soon as it is ingested, without a
retrain and without opening the warehouse. Which sources and verdicts are trusted is decided where the
snapshot is read (serving, from config/gold.yaml); this layer only sums.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rexai_assets.contract import TARGETS
from rexai_assets.warehouse import table_exists

KEYS = ("recipe_key", "label_source", "verdict")
COLUMNS = (*KEYS, *(f"{t}_{s}" for t in TARGETS for s in ("sum", "n")))


def measured_rows(con: Any) -> pd.DataFrame:
    """Every stored measurement with its experiment's verdict (None for crew feedback)."""
    if not table_exists(con, "observations", "measurements"):
        return pd.DataFrame(columns=["recipe_spec", "label_source", "verdict", *TARGETS])
    targets = ", ".join(f"m.{t}" for t in TARGETS)
    return con.execute(
        f"SELECT m.recipe_spec, m.label_source, e.verdict, {targets} FROM observations.measurements m "
        "LEFT JOIN observations.experiment_runs e ON m.kind = 'experiment' AND e.experiment_id = m.observation_id "
        "ORDER BY m.observation_id").df()


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Sums and counts of each target per (recipe content key, label source, verdict)."""
    from rexai_assets.recipes import spec_identity

    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c in KEYS else float) for c in COLUMNS})
    frame = rows.assign(recipe_key=[spec_identity(s)[0] for s in rows["recipe_spec"]],
                        verdict=rows["verdict"].astype(object).where(rows["verdict"].notna(), "-"))
    grouped = frame.groupby(list(KEYS), sort=True)
    parts = {f"{t}_{s}": getattr(grouped[t], "sum" if s == "sum" else "count")() for t in TARGETS
             for s in ("sum", "n")}
    out = pd.DataFrame(parts).reset_index()
    out["verdict"] = out["verdict"].where(out["verdict"] != "-", None)
    return out[list(COLUMNS)]


def write_snapshot(con: Any, path: Path) -> Path:
    """Rewrite the snapshot from the warehouse (atomic: a reader sees the old file or the new one)."""
    from rexai_assets.atomic import write_with

    snapshot = summarise(measured_rows(con))
    return write_with(path, lambda tmp: snapshot.to_parquet(tmp, index=False))
