"""Lineage of the gold dataset: content hashes of the raw files and observation partitions it used."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rexai_assets.hashing import sha256_file

# Raw files the gold layer reads (relative to the data root's raw/): inventory and materials,
# processes, MGS-1 oxides and properties, and every material data sheet.
GOLD_RAW_FILES = ("nasa_waste_inventory.csv", "process_catalog.csv", "mgs1_oxides.csv", "mgs1_properties.csv")
DATASHEET_GLOB = "materials/*.csv"


def raw_file_hashes(raw_dir: Path) -> dict[str, str]:
    """sha256 of every raw file the gold dataset is built from, keyed by path relative to raw/."""
    raw_dir = Path(raw_dir)
    files = [raw_dir / name for name in GOLD_RAW_FILES] + sorted(raw_dir.glob(DATASHEET_GLOB))
    return {str(p.relative_to(raw_dir)): sha256_file(p) for p in files if p.is_file()}


def observation_partitions(measurements: pd.DataFrame) -> list[dict]:
    """One record per (kind, partition, source file, content hash) of the measurements used, sorted."""
    if measurements is None or measurements.empty:
        return []
    keys = ["kind", "partition_key", "source_file", "source_sha256"]
    frame = measurements.reindex(columns=keys + ["observation_id"]).fillna({k: "" for k in keys})
    grouped = frame.groupby(keys, dropna=False)["observation_id"].count().reset_index(name="rows")
    grouped = grouped.sort_values(keys).reset_index(drop=True)
    return [{k: (int(v) if k == "rows" else str(v)) for k, v in row.items()} for row in grouped.to_dict("records")]


def row_counts(frame: pd.DataFrame) -> dict:
    """Rows per label_source, per split, and per split and label_source."""
    by_both = frame.groupby(["split", "label_source"]).size()
    nested: dict[str, dict[str, int]] = {}
    for (split, source), count in by_both.items():
        nested.setdefault(str(split), {})[str(source)] = int(count)
    return {
        "total": int(len(frame)),
        "by_label_source": {str(k): int(v) for k, v in frame["label_source"].value_counts().sort_index().items()},
        "by_split": {str(k): int(v) for k, v in frame["split"].value_counts().sort_index().items()},
        "by_split_and_label_source": nested,
    }
