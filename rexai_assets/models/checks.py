"""The model checks, as plain functions over a trained ensemble's metadata.

They judge on the golden slice that decides (models/rules.py), exactly as the gate does, and the gate
repeats them as criteria: a challenger that fails one gets a REJECT proposal with these numbers.
"""

from __future__ import annotations

import math
from typing import Sequence

from rexai_assets.models.rules import (QualityThresholds, coverage_verdict, covered_count, deciding_slice)


def deciding_split(metadata: dict, target: str, thresholds: QualityThresholds) -> str:
    """`golden_measured` once it has enough trusted rows for `target`, else `golden_simulated`."""
    ensemble = metadata.get("metrics", {}).get("ensemble", {})
    measured_n = ensemble.get("golden_measured", {}).get(target, {}).get("n", 0)
    return f"golden_{deciding_slice(measured_n, thresholds)}"


def coverage_problems(metadata: dict, targets: Sequence[str], thresholds: QualityThresholds) -> tuple[list[str], dict]:
    """One line per target whose interval coverage is significantly below nominal on the deciding slice."""
    nominal = float(metadata.get("coverage_target", 0.95))
    ensemble = metadata.get("metrics", {}).get("ensemble", {})
    problems, detail = [], {}
    for target in targets:
        split = deciding_split(metadata, target, thresholds)
        entry = ensemble.get(split, {}).get(target)
        if not entry or not entry.get("n"):
            problems.append(f"{target}: no labelled {split} rows to measure interval coverage on")
            continue
        verdict = coverage_verdict(covered_count(entry["coverage"], entry["n"]), entry["n"], nominal,
                                   thresholds.coverage_test_level)
        detail[target] = dict(verdict.to_dict(), slice=split)
        if verdict.significantly_below:
            problems.append(f"{target}: interval {verdict.describe()} on {split}: significantly below nominal")
    return problems, detail


def heuristic_problems(metadata: dict, targets: Sequence[str]) -> tuple[list[str], dict]:
    """One line per target where the ensemble does not beat the heuristic on the deciding golden slice."""
    versus = metadata.get("golden_vs_heuristic", {})
    problems = []
    for target in targets:
        entry = versus.get(target)
        if entry is None:
            problems.append(f"{target}: no labelled golden rows to compare with the heuristic")
        elif not entry.get("beats") or math.isnan(entry["model_mae"]):
            problems.append(f"{target}: {entry['slice']} MAE {entry['model_mae']:.4g} is not below the heuristic's "
                            f"{entry['heuristic_mae']:.4g} (n={entry['n']})")
    return problems, versus
