"""The blocking checks of the models group, as plain functions over a trained ensemble's metadata."""

from __future__ import annotations

import math
from typing import Sequence


def coverage_problems(metadata: dict, low: float, high: float, margin_sd: float = 0.0,
                      split: str = "val") -> tuple[list[str], dict[str, dict]]:
    """One line per target whose empirical interval coverage on `split` is outside its bounds.

    The bounds are [low, high] widened by `margin_sd` binomial standard errors of the nominal coverage
    at that target's number of labelled rows: on a small validation set the measured coverage cannot
    be resolved more finely than that, whatever the intervals' quality. A target whose intervals were
    calibrated on measured rows is judged on the measured rows of `split` (`<split>_measured`)."""
    coverage = metadata.get("coverage", {}).get(split)
    if not coverage:
        return [f"no coverage measured on {split} (no labelled {split} rows?)"], {}
    nominal = float(metadata.get("coverage_target", 0.95))
    selection = metadata.get("selection", {})
    problems, detail = [], {}
    for target in coverage:
        measured = selection.get(target, {}).get("calibrated_on") == "measured"
        target_split = f"{split}_measured" if measured and f"{split}_measured" in metadata["coverage"] else split
        value = metadata["coverage"][target_split][target]
        counts = metadata.get("metrics", {}).get("ensemble", {}).get(target_split, {})
        n = int(counts.get(target, {}).get("n", 0))
        margin = margin_sd * math.sqrt(nominal * (1 - nominal) / n) if n else 0.0
        lo, hi = low - margin, high + margin
        detail[target] = {"coverage": value, "n": n, "slice": target_split, "bounds": [round(lo, 4), round(hi, 4)]}
        if value is None or math.isnan(value) or not lo <= value <= hi:
            problems.append(f"{target}: coverage on {target_split} {value!r} outside [{lo:.3f}, {hi:.3f}] (n={n})")
    return problems, detail


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
