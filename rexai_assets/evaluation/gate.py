"""The validation gate (first vote): compare a challenger with the champion on the same rows.

Metrics are per target and per slice, never averaged across units; the one aggregate (the
improvement that separates PROMOTE from REVIEW) is a mean of *relative* MAE changes, which are
unit-free. Trusted measured golden rows decide a target once they are numerous enough; until then
the simulated slice decides. Once measured rows decide, the simulated slice only guards against
gross regressions, with its own looser bound: the challenger may drift from the simulator by about
as much as the champion misses the measurements, plus `simulated_guard_regression`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from rexai_assets import settings

PROMOTE, REVIEW, REJECT = "PROMOTE", "REVIEW", "REJECT"
SIMULATED_SLICE, MEASURED_SLICE = "simulated", "measured"


class QualityThresholds(settings.StrictModel):
    max_relative_regression: dict[str, float]
    simulated_guard_regression: float = 0.25
    min_interval_coverage: float = 0.85
    min_improvement_for_promote: float = 0.01
    min_measured_golden_rows: int = 20
    required_slices: tuple[str, ...] = (SIMULATED_SLICE,)
    min_rows_per_target: int = 5


def quality_thresholds() -> QualityThresholds:
    return settings.load("quality_thresholds.yaml", QualityThresholds)


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


def decide(metrics: pd.DataFrame, targets: Sequence[str], thresholds: QualityThresholds,
           challenger: str = "challenger", champion: str | None = "champion", heuristic: str = "heuristic",
           split: str = "golden") -> GateDecision:
    """PROMOTE / REVIEW / REJECT from per-slice metrics of challenger, champion (or heuristic if none)."""
    baseline = champion if champion is not None and (metrics["model"] == champion).any() else heuristic
    baseline_label = "champion" if baseline == champion else "heuristic"
    criteria: list[Criterion] = []
    deltas: dict[str, dict[str, float]] = {}
    deciding: dict[str, str] = {}
    evidence: list[int] = []
    improvements: list[float] = []

    for required in thresholds.required_slices:
        present = ((metrics["model"] == challenger) & (metrics["split"] == split) & (metrics["slice"] == required)).any()
        criteria.append(Criterion(f"slice {required} evaluated", bool(present),
                                  f"{required} slice {'present' if present else 'missing'} in {split}"))

    for target in targets:
        measured = _lookup(metrics, challenger, split, MEASURED_SLICE, target)
        measured_decides = measured is not None and measured["n"] >= thresholds.min_measured_golden_rows
        slice_name = MEASURED_SLICE if measured_decides else SIMULATED_SLICE
        deciding[target] = slice_name
        cand = _lookup(metrics, challenger, split, slice_name, target)
        base = _lookup(metrics, baseline, split, slice_name, target)
        if cand is None or base is None or cand["n"] < thresholds.min_rows_per_target:
            criteria.append(Criterion(f"{target} evaluated", False,
                                      f"{target}: fewer than {thresholds.min_rows_per_target} labelled {slice_name} rows", target))
            continue
        evidence.append(int(cand["n"]))
        bound = thresholds.max_relative_regression.get(target, 0.02)
        relative = (cand["mae"] - base["mae"]) / base["mae"] if base["mae"] > 0 else (0.0 if cand["mae"] == 0 else math.inf)
        improvements.append(-relative)
        deltas[target] = {"mae": float(cand["mae"]), f"{baseline_label}_mae": float(base["mae"]),
                          "relative_change": float(relative), "coverage": float(cand["coverage"]), "n": int(cand["n"])}
        if baseline_label == "champion":
            limit = base["mae"] * (1 + bound)
            criteria.append(Criterion(
                f"{target} no regression", bool(cand["mae"] <= limit),
                f"{target} MAE {_fmt(cand['mae'])} {'<=' if cand['mae'] <= limit else '>'} {_fmt(limit)} "
                f"({slice_name}; champion {_fmt(base['mae'])} +{bound:.0%})", target))
        else:
            criteria.append(Criterion(
                f"{target} beats heuristic", bool(cand["mae"] < base["mae"]),
                f"{target} MAE {_fmt(cand['mae'])} {'<' if cand['mae'] < base['mae'] else '>='} heuristic "
                f"{_fmt(base['mae'])} ({slice_name})", target))
        criteria.append(Criterion(
            f"{target} interval coverage", bool(cand["coverage"] >= thresholds.min_interval_coverage),
            f"{target} 95% interval coverage {cand['coverage']:.3f} "
            f"{'>=' if cand['coverage'] >= thresholds.min_interval_coverage else '<'} {thresholds.min_interval_coverage:.2f} ({slice_name})",
            target))
        if measured_decides and baseline_label == "champion":
            sim_cand = _lookup(metrics, challenger, split, SIMULATED_SLICE, target)
            sim_base = _lookup(metrics, baseline, split, SIMULATED_SLICE, target)
            measured_base = _lookup(metrics, baseline, split, MEASURED_SLICE, target)
            if sim_cand is not None and sim_base is not None and measured_base is not None:
                # Learning reality may move the model away from the simulator by about as much as the
                # champion (a simulator-like model) misses reality; drifting much further is gross.
                allowed = (sim_base["mae"] + measured_base["mae"]) * (1 + thresholds.simulated_guard_regression)
                criteria.append(Criterion(
                    f"{target} simulated guard", bool(sim_cand["mae"] <= allowed),
                    f"{target} simulated MAE {_fmt(sim_cand['mae'])} {'<=' if sim_cand['mae'] <= allowed else '>'} "
                    f"{_fmt(allowed)} ((champion simulated {_fmt(sim_base['mae'])} + measured {_fmt(measured_base['mae'])})"
                    f" +{thresholds.simulated_guard_regression:.0%})", target))

    improvement = float(np.mean(improvements)) if improvements else 0.0
    if any(not c.passed for c in criteria):
        recommendation = REJECT
    elif baseline_label == "heuristic" or improvement >= thresholds.min_improvement_for_promote:
        recommendation = PROMOTE
    else:
        recommendation = REVIEW
    # How much evidence stands behind the vote: saturates as the deciding rows grow.
    confidence = float(min(n / (n + 30.0) for n in evidence)) if evidence else 0.0
    return GateDecision(recommendation, round(confidence, 4), criteria, deltas, deciding, improvement, baseline_label)


@dataclass
class EvaluationReport:
    """What `model_evaluation` hands to `promotion_proposal`."""

    metrics: pd.DataFrame
    challenger_version: str | None
    champion_version: str | None
    lineage: dict = field(default_factory=dict)

    def table(self, split: str = "golden") -> pd.DataFrame:
        view = self.metrics[self.metrics["split"] == split]
        return view.pivot_table(index=["slice", "target"], columns="model", values="mae").reset_index()
