"""Honest benchmarks: heuristic vs champion vs challenger, per scenario, preset and target; and ablations.

Evaluation rows, each tagged with a `label_set` (never pooled with another label set):

- `golden_measured`: golden rows from trusted measured sources (lab, iss_sim, analog_field);
- `golden_simulated`: golden rows labelled by the bootstrap simulator;
- `generated`: scenario recipes generated here and labelled by the same simulator (`gold.simulator.simulate`,
  noise from gold.yaml, keyed by recipe id), because random gold rows rarely fall in a scenario.

Slices (`slice` column):

- `all`: every row of the label set;
- `scenario:<name>` (config/benchmarks.yaml `scenarios`): rows whose recipe uses only the
  scenario's waste items, with its process and a regolith share within 0.05 of a listed value. The
  generated rows of a scenario are every mix of 1..all of its items on a `fraction_step` grid;
- `preset:<name>`: rows whose *labels* meet the preset's resource caps (energy, water, crew all
  measured and within the caps): the recipes that matter for that target. Selecting on labels, not
  predictions, keeps the slice independent of every model being compared.

Metrics per (model, label_set, slice, target): n, MAE, RMSE, mean 95 % interval width and coverage.
Targets are never averaged together (their units differ).

Ablations retrain a light HistGradientBoosting per target on the gold train split (weights, per-target
masks) without each feature group (by feature-name prefix, config `benchmarks.ablation_groups`) and
report the validation MAE change per target against the same model with every feature.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from rexai_assets.plots import png_bytes
from rexai_assets.evaluation.config import BenchmarkSettings, ScenarioSettings
from rexai_assets.models.predictive import RESOURCES, Preset

METRIC_COLUMNS = ["model", "model_version", "label_set", "slice", "target", "n", "mae", "rmse", "interval_width", "coverage"]
REGOLITH_TOLERANCE = 0.05


# ---------------------------------------------------------------------------------------------
# Evaluation rows


def grid_fractions(k: int, step: float) -> np.ndarray:
    """Every k-part split of 1 on the `step` grid with each part >= step, [m, k]."""
    units = int(round(1.0 / step))
    rows = [c for c in itertools.product(range(1, units), repeat=k - 1) if sum(c) < units] if k > 1 else [()]
    return np.array([[*c, units - sum(c)] for c in rows], dtype=float) * step


def scenario_arrays(ctx: Any, scenario: ScenarioSettings, step: float) -> tuple[np.ndarray, ...]:
    """Index arrays (item_idx, item_frac, process_idx, regolith) of every scenario recipe."""
    from rexai_assets.gold.features import SLOTS

    positions = ctx.waste_index(list(scenario.items))
    if (positions < 0).any():
        raise ValueError(f"scenario items {list(scenario.items)}: unknown waste_id")
    process = int(ctx.process_index([scenario.process])[0])
    if process < 0:
        raise ValueError(f"scenario process {scenario.process!r} is not in the feature contract")
    items, fracs = [], []
    for k in range(1, min(len(positions), SLOTS) + 1):
        for combo in itertools.combinations(sorted(positions), k):
            for split in grid_fractions(k, step):
                items.append(list(combo) + [-1] * (SLOTS - k))
                fracs.append(list(split) + [0.0] * (SLOTS - k))
    item_idx = np.repeat(np.array(items, dtype=np.int64), len(scenario.regolith_frac), axis=0)
    item_frac = np.repeat(np.round(np.array(fracs), 6), len(scenario.regolith_frac), axis=0)
    regolith = np.tile(np.array(scenario.regolith_frac, dtype=float), len(items))
    return item_idx, item_frac, np.full(len(item_idx), process), regolith


def generated_rows(ctx: Any, cfg: BenchmarkSettings, seed: int | None = None) -> pd.DataFrame:
    """Scenario recipes with features and simulator labels (label_set `generated`, one scenario each)."""
    from rexai_assets.gold.candidates import candidate_frame
    from rexai_assets.gold.contract import gold_settings
    from rexai_assets.gold.simulator import recipe_keys, simulate

    frames = []
    for name, scenario in sorted(cfg.scenarios.items()):
        frame = candidate_frame(ctx, *scenario_arrays(ctx, scenario, cfg.fraction_step))
        labels = simulate(frame[list(ctx.names)], cfg.seed if seed is None else seed, gold_settings().simulator.noise,
                          keys=recipe_keys(frame["recipe_id"]))
        frame[list(labels.columns)] = labels.to_numpy()
        frame["label_set"], frame["label_source"], frame["scenario"] = "generated", "simulated", name
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def in_scenario(spec_json: str, scenario: ScenarioSettings) -> bool:
    spec = json.loads(spec_json)
    items = {i["waste_id"] if isinstance(i, dict) else i[0] for i in spec["items"]}
    return (spec["process_id"] == scenario.process and items <= set(scenario.items)
            and any(abs(float(spec.get("regolith_frac", 0.0)) - r) <= REGOLITH_TOLERANCE for r in scenario.regolith_frac))


def golden_rows(gold: Any, cfg: BenchmarkSettings) -> pd.DataFrame:
    """Golden rows tagged golden_measured / golden_simulated, with the scenario they belong to (or None)."""
    golden = gold.split_frame("golden").copy()
    trusted = set(getattr(gold, "trusted_sources", ("lab", "iss_sim", "analog_field")))
    source = golden["label_source"].astype(str)
    golden = golden[(source == "simulated") | source.isin(trusted)]
    golden["label_set"] = np.where(golden["label_source"].astype(str) == "simulated", "golden_simulated", "golden_measured")
    golden["scenario"] = None
    for name, scenario in sorted(cfg.scenarios.items()):
        member = golden["recipe_spec"].map(lambda s, sc=scenario: in_scenario(s, sc))
        golden.loc[member & golden["scenario"].isna(), "scenario"] = name
    return golden.reset_index(drop=True)


def preset_mask(frame: pd.DataFrame, preset: Preset) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for resource, _ in RESOURCES:
        values = frame[resource].to_numpy(dtype=float)
        mask &= ~np.isnan(values) & (values <= preset.cap(resource))
    return mask


def slices(frame: pd.DataFrame, presets: Sequence[Preset]) -> list[tuple[str, str, np.ndarray]]:
    """(label_set, slice, row positions) for every non-empty slice."""
    out = []
    for label_set in sorted(frame["label_set"].unique()):
        in_set = frame["label_set"].to_numpy() == label_set
        out.append((label_set, "all", np.flatnonzero(in_set)))
        for name in sorted(n for n in frame["scenario"].dropna().unique()):
            out.append((label_set, f"scenario:{name}", np.flatnonzero(in_set & (frame["scenario"].to_numpy() == name))))
        for preset in presets:
            out.append((label_set, f"preset:{preset.name}", np.flatnonzero(in_set & preset_mask(frame, preset))))
    return [s for s in out if len(s[2])]


# ---------------------------------------------------------------------------------------------
# Metrics


def metrics_rows(model: str, version: str | None, pred: Mapping[str, Mapping[str, np.ndarray]], frame: pd.DataFrame,
                 cuts: Sequence[tuple[str, str, np.ndarray]], targets: Sequence[str]) -> list[dict]:
    rows = []
    for label_set, slice_name, positions in cuts:
        for target in targets:
            y = frame[target].to_numpy(dtype=float)[positions]
            labelled = ~np.isnan(y)
            if not labelled.any():
                continue
            y = y[labelled]
            value = np.asarray(pred[target]["value"], dtype=float)[positions][labelled]
            lo = np.asarray(pred[target]["lo"], dtype=float)[positions][labelled]
            hi = np.asarray(pred[target]["hi"], dtype=float)[positions][labelled]
            err = value - y
            rows.append({"model": model, "model_version": version, "label_set": label_set, "slice": slice_name,
                         "target": target, "n": int(labelled.sum()), "mae": float(np.mean(np.abs(err))),
                         "rmse": float(np.sqrt(np.mean(err ** 2))), "interval_width": float(np.mean(hi - lo)),
                         "coverage": float(np.mean((y >= lo) & (y <= hi)))})
    return rows


@dataclass
class BenchmarkResult:
    metrics: pd.DataFrame
    rows: dict[str, int]
    models: dict[str, str | None]
    plots: dict[str, bytes] = field(default_factory=dict)
    before_after: pd.DataFrame | None = None


def evaluation_frame(gold: Any, ctx: Any, cfg: BenchmarkSettings) -> pd.DataFrame:
    names = list(ctx.names)
    generated = generated_rows(ctx, cfg)
    golden = golden_rows(gold, cfg)
    keep = ["recipe_id", "recipe_spec", "label_set", "label_source", "scenario", *names, *gold.target_names]
    parts = [p[[c for c in keep if c in p.columns]] for p in (golden, generated) if len(p)]
    return pd.concat(parts, ignore_index=True)


def run_benchmarks(gold: Any, ctx: Any, presets: Sequence[Preset], scorers: Mapping[str, Any],
                   cfg: BenchmarkSettings) -> BenchmarkResult:
    """Metrics of every scorer (name -> Scorer) on every slice; each scorer predicts all rows in one batch."""
    frame = evaluation_frame(gold, ctx, cfg)
    cuts = slices(frame, presets)
    X = frame[list(ctx.names)].to_numpy(dtype=np.float64)
    rows = []
    for name, scorer in scorers.items():
        rows += metrics_rows(name, scorer.version, scorer.predict(X), frame, cuts, gold.target_names)
    metrics = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    counts = frame.groupby("label_set").size().to_dict()
    return BenchmarkResult(metrics, {k: int(v) for k, v in counts.items()},
                           {n: s.version for n, s in scorers.items()})


# ---------------------------------------------------------------------------------------------
# Plots (one panel per target: units are never mixed on an axis)


def mae_plot(metrics: pd.DataFrame, label_set: str, title: str) -> bytes | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = metrics[metrics["label_set"] == label_set]
    if data.empty:
        return None
    targets = list(dict.fromkeys(data["target"]))
    models = list(dict.fromkeys(data["model"]))
    slice_names = list(dict.fromkeys(data["slice"]))
    fig, axes = plt.subplots(1, len(targets), figsize=(3.2 * len(targets), 0.35 * len(slice_names) + 1.8),
                             constrained_layout=True, squeeze=False)
    height = 0.8 / max(len(models), 1)
    for ax, target in zip(axes[0], targets):
        for m, model in enumerate(models):
            sub = data[(data["target"] == target) & (data["model"] == model)].set_index("slice").reindex(slice_names)
            ax.barh(np.arange(len(slice_names)) + m * height, sub["mae"].to_numpy(dtype=float), height=height, label=model)
        ax.set_yticks(np.arange(len(slice_names)) + 0.4 - height / 2)
        ax.set_yticklabels(slice_names if ax is axes[0][0] else [], fontsize=7)
        ax.set_title(f"{target} MAE", fontsize=9)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return png_bytes(fig)


def before_after_plot(before: pd.DataFrame, after: pd.DataFrame, old: str, new: str) -> bytes:
    """MAE per target (own panel each) of the previous and the new champion on the same rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ["label_set", "slice", "target"]
    merged = before.merge(after, on=keys, suffixes=("_before", "_after"))
    merged = merged[merged["slice"] == "all"]
    targets = list(dict.fromkeys(merged["target"]))
    fig, axes = plt.subplots(1, max(len(targets), 1), figsize=(3.2 * max(len(targets), 1), 3), constrained_layout=True,
                             squeeze=False)
    for ax, target in zip(axes[0], targets):
        sub = merged[merged["target"] == target]
        x = np.arange(len(sub))
        ax.bar(x - 0.2, sub["mae_before"], 0.4, label=f"v{old} (before)")
        ax.bar(x + 0.2, sub["mae_after"], 0.4, label=f"v{new} (after)")
        ax.set_xticks(x)
        ax.set_xticklabels(sub["label_set"], rotation=30, fontsize=7)
        ax.set_title(f"{target} MAE", fontsize=9)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"champion change v{old} -> v{new}: MAE on the same rows", fontsize=10)
    return png_bytes(fig)


def write_tables(frame: pd.DataFrame, folder: Path, stem: str) -> dict[str, Path]:
    from rexai_assets.atomic import write_text_atomic, write_with

    return {"csv": write_text_atomic(folder / f"{stem}.csv", frame.to_csv(index=False)),
            "parquet": write_with(folder / f"{stem}.parquet", lambda p: frame.to_parquet(p, index=False))}


# ---------------------------------------------------------------------------------------------
# Ablations


def feature_groups(names: Sequence[str], groups: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """group -> features whose name starts with one of the group's prefixes (a group matching nothing is an error)."""
    out = {}
    for group, prefixes in groups.items():
        members = [n for n in names if any(n.startswith(p) for p in prefixes)]
        if not members:
            raise ValueError(f"benchmarks.yaml: ablation group {group!r} ({', '.join(prefixes)}) matches no feature")
        out[group] = members
    return out


def _fit_predict(X: np.ndarray, y: np.ndarray, w: np.ndarray, Xv: np.ndarray, settings: Any) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    from rexai_assets.models.boosting import fit_histogram_boosting

    model = HistGradientBoostingRegressor(max_iter=settings.max_iter, learning_rate=settings.learning_rate,
                                          max_leaf_nodes=settings.max_leaf_nodes, early_stopping=False,
                                          min_samples_leaf=settings.min_samples_leaf, random_state=settings.seed)
    # One OpenMP thread: the light model is tiny, and spinning threads on a shared machine cost far more.
    fit_histogram_boosting(model, X, y, w)
    with threadpool_limits(limits=1):
        return model.predict(Xv)


def run_ablations(gold: Any, cfg: BenchmarkSettings) -> pd.DataFrame:
    """Validation MAE per target with every feature and without each group, and the change."""
    names = list(gold.feature_names)
    groups = feature_groups(names, cfg.ablation_groups)
    X, Y, W = gold.X("train"), gold.Y("train"), gold.W("train")
    Xv, Yv = gold.X("val"), gold.Y("val")
    settings = cfg.ablation_model
    if len(X) > settings.max_train_rows:
        rows = np.sort(np.random.default_rng(settings.seed).choice(len(X), settings.max_train_rows, replace=False))
        X, Y, W = X[rows], Y[rows], W[rows]
    out = []
    for group, removed in [("none", []), *groups.items()]:
        keep = [i for i, n in enumerate(names) if n not in set(removed)]
        for j, target in enumerate(gold.target_names):
            train, val = ~np.isnan(Y[:, j]), ~np.isnan(Yv[:, j])
            if train.sum() < 2 or not val.any():
                continue
            pred = _fit_predict(X[train][:, keep], Y[train, j], W[train], Xv[val][:, keep], settings)
            out.append({"group": group, "features_removed": len(removed), "removed": ",".join(removed),
                        "target": target, "n_val": int(val.sum()), "val_mae": float(np.mean(np.abs(pred - Yv[val, j])))})
    frame = pd.DataFrame(out)
    base = frame[frame["group"] == "none"].set_index("target")["val_mae"]
    frame["baseline_mae"] = frame["target"].map(base)
    frame["delta_mae"] = frame["val_mae"] - frame["baseline_mae"]
    frame["relative_delta"] = frame["delta_mae"] / frame["baseline_mae"].where(frame["baseline_mae"] > 0)
    return frame


def ablation_plot(frame: pd.DataFrame) -> bytes:
    """Relative change of validation MAE per target (unit-free) when each group is removed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = frame[frame["group"] != "none"]
    pivot = data.pivot(index="group", columns="target", values="relative_delta")
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(pivot) + 2), constrained_layout=True)
    height = 0.8 / max(len(pivot.columns), 1)
    for k, target in enumerate(pivot.columns):
        ax.barh(np.arange(len(pivot)) + k * height, 100 * pivot[target].to_numpy(dtype=float), height=height, label=target)
    ax.set_yticks(np.arange(len(pivot)) + 0.4 - height / 2)
    ax.set_yticklabels(pivot.index)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("validation MAE change without the group (% of the full model's MAE, per target)")
    ax.legend(fontsize=7)
    return png_bytes(fig)
