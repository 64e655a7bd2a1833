"""The validation gate (first vote): compare a challenger with the champion on the same rows.

Metrics are per target and per slice, never averaged across units; the one aggregate (the
improvement that separates PROMOTE from REVIEW) is a mean of *relative* MAE changes, which are
unit-free. Trusted measured golden rows decide a target once they are numerous enough; until then
the simulated slice decides (models/rules.py). Once measured rows decide, the simulator is a prior,
not the truth: the simulated slice is reported but does not vote, and the guards that stop a broken
challenger judge on the measured rows too (worse than the heuristic, coverage significantly below
nominal, non-finite predictions). The model checks on `rexai_regressor` are the same functions on the
same rows, so a failed check is a REJECT here, with its numbers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from rexai_assets.models.rules import (MEASURED_SLICE, SIMULATED_SLICE, QualityThresholds, coverage_verdict,
                                       covered_count, deciding_slice, quality_thresholds)

__all__ = ["QualityThresholds", "quality_thresholds", "decide", "slice_metrics", "slice_labels", "GateDecision"]

PROMOTE, REVIEW, REJECT = "PROMOTE", "REVIEW", "REJECT"


Predictions = Mapping[str, Mapping[str, np.ndarray]]  # target -> {"value", "lo", "hi"}


def slice_metrics(model: str, predictions: Predictions, truth: pd.DataFrame, targets: Sequence[str],
                  split_column: str = "split", slice_column: str = "slice") -> pd.DataFrame:
    """One row per (split, slice, target): rows with a label, MAE, RMSE, 95 % coverage and mean width.

    `truth`'s index holds each row's position in the prediction arrays, so a subset of the rows
    can be scored against predictions made for all of them.
    """
    rows = []
    for (split, slice_name), group in truth.groupby([split_column, slice_column], sort=True):
        positions = group.index.to_numpy()
        for target in targets:
            y = group[target].to_numpy(dtype=float)
            labelled = ~np.isnan(y)
            n = int(labelled.sum())
            if n == 0:
                continue
            pred = predictions[target]
            value = np.asarray(pred["value"], dtype=float)[positions][labelled]
            lo = np.asarray(pred["lo"], dtype=float)[positions][labelled]
            hi = np.asarray(pred["hi"], dtype=float)[positions][labelled]
            err = value - y[labelled]
            rows.append({"model": model, "split": split, "slice": slice_name, "target": target, "n": n,
                         "mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err ** 2))),
                         "coverage": float(np.mean((y[labelled] >= lo) & (y[labelled] <= hi))),
                         "mean_width": float(np.mean(hi - lo))})
    return pd.DataFrame(rows, columns=["model", "split", "slice", "target", "n", "mae", "rmse", "coverage", "mean_width"])


def slice_labels(label_source: pd.Series, trusted_sources: Sequence[str]) -> pd.DataFrame:
    """Each row's slices: `simulated`, or `measured` for trusted sources (plus its own source name)."""
    trusted = label_source.isin(list(trusted_sources))
    coarse = np.where(label_source == "simulated", SIMULATED_SLICE, np.where(trusted, MEASURED_SLICE, "untrusted"))
    return pd.DataFrame({"slice": coarse, "label_source": label_source.to_numpy()}, index=label_source.index)


@dataclass(frozen=True)
class Criterion:
    name: str
    passed: bool
    detail: str
    target: str | None = None


@dataclass
class GateDecision:
    recommendation: str
    confidence: float
    criteria: list[Criterion]
    deltas: dict[str, dict[str, float]]
    deciding_slices: dict[str, str]
    improvement: float
    baseline: str  # "champion" or "heuristic"

    @property
    def failed(self) -> list[Criterion]:
        return [c for c in self.criteria if not c.passed]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["criteria"] = [asdict(c) for c in self.criteria]
        return data


def _lookup(metrics: pd.DataFrame, model: str, split: str, slice_name: str, target: str) -> pd.Series | None:
    rows = metrics[(metrics["model"] == model) & (metrics["split"] == split)
                   & (metrics["slice"] == slice_name) & (metrics["target"] == target)]
    return None if rows.empty else rows.iloc[0]


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.1f}"


@dataclass(frozen=True)
class Contenders:
    """Who is compared: the challenger against the champion, or against the heuristic when there is none."""

    challenger: str
    baseline_model: str
    baseline: str  # "champion" or "heuristic"
    heuristic: str
    nominal_coverage: float


def _verdict(row: pd.Series, thresholds: QualityThresholds, nominal: float):
    return coverage_verdict(covered_count(row["coverage"], int(row["n"])), int(row["n"]), nominal,
                            thresholds.coverage_test_level)


def error_criteria(target: str, slice_name: str, cand: pd.Series, base: pd.Series, heur: pd.Series | None,
                   baseline: str, thresholds: QualityThresholds) -> list[Criterion]:
    """No regression against the champion (or beating the heuristic without one), and the heuristic guard."""
    criteria = []
    if baseline == "champion":
        bound = thresholds.max_relative_regression.get(target, 0.02)
        limit = base["mae"] * (1 + bound)
        ok = bool(cand["mae"] <= limit)
        criteria.append(Criterion(
            f"{target} no regression", ok, f"{target} MAE {_fmt(cand['mae'])} {'<=' if ok else '>'} {_fmt(limit)} "
            f"({slice_name}, n={int(cand['n'])}; champion {_fmt(base['mae'])} +{bound:.0%})", target))
    guard = base if baseline == "heuristic" else heur
    if guard is not None:
        ok = bool(cand["mae"] < guard["mae"])
        criteria.append(Criterion(
            f"{target} beats heuristic", ok, f"{target} MAE {_fmt(cand['mae'])} {'<' if ok else '>='} heuristic "
            f"{_fmt(guard['mae'])} ({slice_name}, n={int(cand['n'])})", target))
    return criteria


def interval_criteria(target: str, slice_name: str, cand: pd.Series, base: pd.Series, who: Contenders,
                      thresholds: QualityThresholds) -> list[Criterion]:
    """Coverage not significantly below nominal; width no more than the champion's plus the allowed share."""
    verdict = _verdict(cand, thresholds, who.nominal_coverage)
    criteria = [Criterion(f"{target} interval coverage", not verdict.significantly_below,
                          f"{target} 95% interval {verdict.describe()} ({slice_name})"
                          + (": significantly below nominal" if verdict.significantly_below else ""), target)]
    if who.baseline == "champion" and base["mean_width"] > 0:
        limit = base["mean_width"] * (1 + thresholds.max_width_increase)
        champion_short = _verdict(base, thresholds, who.nominal_coverage).significantly_below
        ok = bool(cand["mean_width"] <= limit or champion_short)
        why = ("champion's own coverage is significantly below nominal" if champion_short and cand["mean_width"] > limit
               else f"champion {_fmt(base['mean_width'])} +{thresholds.max_width_increase:.0%}")
        criteria.append(Criterion(
            f"{target} interval width", ok, f"{target} mean interval width {_fmt(cand['mean_width'])} "
            f"{'<=' if cand['mean_width'] <= limit else '>'} {_fmt(limit)} ({slice_name}; {why})", target))
    return criteria


def _relative(cand_mae: float, base_mae: float) -> float:
    if base_mae > 0:
        return (cand_mae - base_mae) / base_mae
    return 0.0 if cand_mae == 0 else math.inf


def target_criteria(metrics: pd.DataFrame, target: str, who: Contenders, thresholds: QualityThresholds,
                    split: str) -> tuple[list[Criterion], dict | None, str]:
    """Every criterion of one target on its deciding slice, its deltas, and the slice."""
    challenger, baseline_model, baseline = who.challenger, who.baseline_model, who.baseline
    measured = _lookup(metrics, challenger, split, MEASURED_SLICE, target)
    slice_name = deciding_slice(0 if measured is None else int(measured["n"]), thresholds)
    cand = _lookup(metrics, challenger, split, slice_name, target)
    base = _lookup(metrics, baseline_model, split, slice_name, target)
    if cand is None or base is None or cand["n"] < thresholds.min_rows_per_target or not np.isfinite(cand["mae"]):
        return [Criterion(f"{target} evaluated", False, f"{target}: fewer than {thresholds.min_rows_per_target} "
                          f"labelled {slice_name} rows, or predictions not finite", target)], None, slice_name
    heur = _lookup(metrics, who.heuristic, split, slice_name, target)
    criteria = (error_criteria(target, slice_name, cand, base, heur, baseline, thresholds)
                + interval_criteria(target, slice_name, cand, base, who, thresholds))
    deltas = {"mae": float(cand["mae"]), f"{baseline}_mae": float(base["mae"]),
              "relative_change": float(_relative(cand["mae"], base["mae"])), "coverage": float(cand["coverage"]),
              "mean_width": float(cand["mean_width"]), "n": int(cand["n"]), "slice": slice_name}
    other = SIMULATED_SLICE if slice_name == MEASURED_SLICE else None
    sim = _lookup(metrics, challenger, split, other, target) if other else None
    if sim is not None:  # reported, without a vote: once measurements decide, the simulator is a prior
        deltas["simulated_mae"] = float(sim["mae"])
    return criteria, deltas, slice_name


def decide(metrics: pd.DataFrame, targets: Sequence[str], thresholds: QualityThresholds,
           challenger: str = "challenger", champion: str | None = "champion", heuristic: str = "heuristic",
           split: str = "golden", nominal_coverage: float = 0.95) -> GateDecision:
    """PROMOTE / REVIEW / REJECT from per-slice metrics of challenger, champion (or heuristic if none)."""
    baseline_model = champion if champion is not None and (metrics["model"] == champion).any() else heuristic
    baseline = "champion" if baseline_model == champion else "heuristic"
    who = Contenders(challenger, baseline_model, baseline, heuristic, nominal_coverage)
    criteria: list[Criterion] = []
    for required in thresholds.required_slices:
        present = ((metrics["model"] == challenger) & (metrics["split"] == split) & (metrics["slice"] == required)).any()
        criteria.append(Criterion(f"slice {required} evaluated", bool(present),
                                  f"{required} slice {'present' if present else 'missing'} in {split}"))
    deltas, deciding = {}, {}
    for target in targets:
        found, delta, deciding[target] = target_criteria(metrics, target, who, thresholds, split)
        criteria += found
        if delta is not None:
            deltas[target] = delta
    improvement = float(np.mean([-d["relative_change"] for d in deltas.values()])) if deltas else 0.0
    if any(not c.passed for c in criteria):
        recommendation = REJECT
    elif baseline == "heuristic" or improvement >= thresholds.min_improvement_for_promote:
        recommendation = PROMOTE
    else:
        recommendation = REVIEW
    # How much evidence stands behind the vote: saturates as the deciding rows grow.
    confidence = float(min(d["n"] / (d["n"] + 30.0) for d in deltas.values())) if deltas else 0.0
    return GateDecision(recommendation, round(confidence, 4), criteria, deltas, deciding, improvement, baseline)


@dataclass
class EvaluationReport:
    """What `model_evaluation` hands to `promotion_proposal`."""

    metrics: pd.DataFrame
    challenger_version: str | None
    champion_version: str | None
    lineage: dict = field(default_factory=dict)
    measured_golden: dict = field(default_factory=dict)  # per target: recipe ids, measured, each model's prediction

    def table(self, split: str = "golden") -> pd.DataFrame:
        view = self.metrics[self.metrics["split"] == split]
        return view.pivot_table(index=["slice", "target"], columns="model", values="mae").reset_index()
