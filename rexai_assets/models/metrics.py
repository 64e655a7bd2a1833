"""Per-target regression metrics. Targets have different units, so nothing is averaged across them
except errors first normalised per target (MAE / std of the target on train)."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def interval_coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Share of labelled rows (non-NaN y) with lo <= y <= hi; NaN when no row is labelled."""
    y, lo, hi = (np.asarray(a, dtype=float) for a in (y, lo, hi))
    labelled = ~np.isnan(y)
    if not labelled.any():
        return float("nan")
    inside = (y[labelled] >= lo[labelled]) & (y[labelled] <= hi[labelled])
    return float(inside.mean())


def regression_metrics(y: np.ndarray, pred: np.ndarray, lo: np.ndarray | None = None,
                       hi: np.ndarray | None = None) -> dict[str, float]:
    """n, MAE, RMSE, R² (and coverage, mean interval width when lo/hi are given) over labelled rows."""
    y = np.asarray(y, dtype=float)
    pred = np.asarray(pred, dtype=float)
    labelled = ~np.isnan(y)
    n = int(labelled.sum())
    out: dict[str, float] = {"n": n}
    if n == 0:
        out.update(mae=float("nan"), rmse=float("nan"), r2=float("nan"))
    else:
        err = pred[labelled] - y[labelled]
        ss_res = float(np.sum(err ** 2))
        ss_tot = float(np.sum((y[labelled] - y[labelled].mean()) ** 2))
        out.update(mae=float(np.mean(np.abs(err))), rmse=float(np.sqrt(ss_res / n)),
                   r2=float(1.0 - ss_res / ss_tot) if ss_tot > 0 else float("nan"))
    if lo is not None and hi is not None:
        lo = np.asarray(lo, dtype=float)
        hi = np.asarray(hi, dtype=float)
        out["coverage"] = interval_coverage(y, lo, hi)
        out["mean_width"] = float(np.mean(hi[labelled] - lo[labelled])) if n else float("nan")
    return out


def per_target_metrics(Y: np.ndarray, predictions: Mapping[str, Mapping[str, np.ndarray]],
                       targets: Sequence[str]) -> dict[str, dict[str, float]]:
    """`predictions[target]` holds "value" and optionally "lo"/"hi"; Y columns follow `targets`."""
    out = {}
    for j, target in enumerate(targets):
        pred = predictions[target]
        out[target] = regression_metrics(Y[:, j], pred["value"], pred.get("lo"), pred.get("hi"))
    return out


def normalised_mae(metrics: Mapping[str, Mapping[str, float]], target_scale: Mapping[str, float]) -> float:
    """Mean over targets of MAE / scale (scale = std of the target on train): the one unit-free aggregate."""
    values = [metrics[t]["mae"] / target_scale[t] for t in metrics
              if t in target_scale and target_scale[t] > 0 and not np.isnan(metrics[t]["mae"])]
    return float(np.mean(values)) if values else float("nan")
