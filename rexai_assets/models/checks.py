"""The blocking checks of the models group, as plain functions over a trained ensemble's metadata."""

from __future__ import annotations

import math
from typing import Sequence


def coverage_problems(metadata: dict, low: float, high: float, split: str = "val") -> tuple[list[str], dict[str, float]]:
    """One line per target whose empirical interval coverage on `split` is outside [low, high]."""
    coverage = metadata.get("coverage", {}).get(split)
    if not coverage:
        return [f"no coverage measured on {split} (no labelled {split} rows?)"], {}
    problems = []
    for target, value in coverage.items():
        if value is None or math.isnan(value) or not low <= value <= high:
            problems.append(f"{target}: coverage on {split} {value!r} outside [{low}, {high}]")
    return problems, dict(coverage)


def heuristic_problems(metadata: dict, targets: Sequence[str]) -> tuple[list[str], dict]:
    """One line per target where the ensemble does not beat the heuristic on the golden set."""
    versus = metadata.get("golden_vs_heuristic", {})
    problems = []
    for target in targets:
        entry = versus.get(target)
        if entry is None:
            problems.append(f"{target}: no labelled golden rows to compare with the heuristic")
        elif not entry.get("beats"):
            problems.append(f"{target}: golden MAE {entry['model_mae']:.4g} is not below the heuristic's "
                            f"{entry['heuristic_mae']:.4g} (n={entry['n']})")
    return problems, versus
