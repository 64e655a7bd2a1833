"""Ranked recipe recommendations for one target preset, from the champion at call time.

For a preset (raw/targets_presets.json):

1. Candidates: distinct recipes drawn by the gold layer's seeded sampler (`gold.candidates.sample_distinct`),
   kept only if one production batch of `batch_kg` kg fits the current inventory: for every waste item,
   `batch_kg * (1 - regolith_frac) * mass_frac <= mass_kg` (regolith is not limited). Drawing continues
   until `candidates` (config/serving.yaml) such recipes exist.
2. Scoring: ONE vectorised call of the scorer on the whole feature matrix (values and 95 % intervals),
   plus the autoencoder's reconstruction error as novelty.
3. Feasibility: a recipe is dropped when, for any resource (energy_kwh, water_l, crew_min, per kg of
   product as the targets are), the interval's lower bound is already above the preset's cap, i.e. it
   exceeds the cap with at least 97.5 % confidence (one side of the 95 % interval).
4. Fit: `fit_shortfall = max(0, rigidity_required - rigidity) + max(0, tightness_required - tightness)`
   (both in [0, 1], so the sum is unit-free; 0 = the point predictions meet both requirements).
5. Probability of meeting the preset, `p_meets`: per target, the served prediction is read as a split
   normal distribution with median `value`, standard deviation `(value - lo) / z` below it and
   `(hi - value) / z` above it, z the standard normal quantile of (1 + coverage) / 2 (coverage: the
   scorer's `coverage_target`, 0.95 by default), so lo and hi are exactly its interval quantiles; a
   zero-width interval is a point mass (probability 0 or 1), a zero-width side puts that half of the
   mass on `value`. `p_meets` is the product over the five
   requirements (rigidity >= r, tightness >= t, energy_kwh, water_l, crew_min <= their caps) of the
   probability that each is met, i.e. the targets are treated as independent. `interval_meets`: the
   whole interval meets every requirement (lo >= requirement for rigidity and tightness, hi <= cap for
   the three resources).
6. Pareto front over the feasible recipes, every objective minimised: fit_shortfall, energy_kwh, water_l,
   crew_min (point predictions). Ties (identical objective vectors) keep the first recipe drawn.
7. Ranking, lexicographic: (a) recipes whose whole interval meets the preset first, so a recipe whose
   lower bound misses a requirement never outranks one whose whole interval meets it; (b) `p_meets`
   descending, floored to steps of 0.01, so that near-certain recipes then compete on cost;
   (c) `resource_load = mean_r(use_r / cap_r)` ascending over the three resources (point predictions,
   each use divided by its own cap, so no units are mixed); (d) draw order. `score = 1 - fit_shortfall
   - resource_weight * resource_load` is still reported (1 would be a recipe meeting the requirements
   for free) but no longer decides the order. The Pareto front is built on point predictions, so the
   top recipe is not necessarily on it; `on_pareto` says which are.
8. Drivers of each prediction: per target, forest impurity importance x the recipe's standardised
   feature value (z-score against the scored candidates): the features that both matter to the model
   and make this recipe differ from a typical candidate. With the heuristic, importances are uniform,
   so the drivers are the largest standardised deviations.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from rexai_assets.plots import png_bytes
from rexai_assets.hashing import jsonable
from rexai_assets import settings
# Candidates and the preset arithmetic live below the layers that use them (planning plans from the same
# pool with the same p_meets); re-exported here for serving's callers.
from rexai_assets.gold.feasible import (Candidates, batch_fits_inventory, inventory_mass,  # noqa: F401
                                        recipe_records, sample_candidates)
from rexai_assets.models.predictive import (FIT_TARGETS, RESOURCES, Preset, UnknownPreset,  # noqa: F401
                                            interval_meets, interval_z, p_meets, preset_from_frame,
                                            prob_at_least, prob_at_most, requirement_probabilities)
from rexai_assets.plots import markdown_image  # noqa: F401

SERVING_FILE = "serving.yaml"
OBJECTIVES = ("fit_shortfall", "energy_kwh", "water_l", "crew_min")


class RecommendationSettings(settings.StrictModel):
    batch_kg: float = 50.0
    candidates: int = 20000
    top_n: int = 10
    seed: int = 20250301
    resource_weight: float = 0.5
    top_features: int = 3


class ServingSettings(settings.StrictModel):
    recommendations: RecommendationSettings = RecommendationSettings()


def serving_settings() -> ServingSettings:
    cfg = settings.load(SERVING_FILE, ServingSettings)
    r = cfg.recommendations
    if r.batch_kg <= 0 or r.candidates < 1 or r.top_n < 1 or r.resource_weight < 0 or r.top_features < 0:
        raise settings.ConfigError(f"{SERVING_FILE}: recommendations: batch_kg, candidates and top_n must be "
                                   f"positive, resource_weight and top_features >= 0")
    return cfg


def read_preset_names(raw_dir: Path) -> list[str]:
    """Preset names of raw/targets_presets.json, validated (rows the raw layer rejects are left out)."""
    from rexai_assets.raw.tables import RAW_FILES, load_presets

    return [str(n) for n in load_presets(Path(raw_dir) / RAW_FILES["target_presets"]).frame["name"]]


# ---------------------------------------------------------------------------------------------
# Ranking


def ranking_order(meets: np.ndarray, p: np.ndarray, load: np.ndarray, step: float = 0.01) -> np.ndarray:
    """Positions sorted best first: whole interval meets, then p floored to `step` descending, then
    resource load ascending, then position (draw order)."""
    bucket = np.floor(np.nan_to_num(np.asarray(p, dtype=float), nan=0.0) / step + 1e-9)
    load = np.nan_to_num(np.asarray(load, dtype=float), nan=np.inf)
    # np.lexsort sorts by the last key first.
    return np.lexsort((np.arange(len(bucket)), load, -bucket, ~np.asarray(meets, dtype=bool)))


def demote_measured_misses(order: np.ndarray, keys: Sequence[str], measured: dict, preset: Preset) -> np.ndarray:
    """`order` with the recipes that trusted measurements show to miss the preset moved behind all others
    (stable: each group keeps its order). `keys[i]` is the content key of `order[i]`."""
    from rexai_assets.serving.measured import misses_preset

    miss = np.array([misses_preset(measured.get(k), preset) for k in keys], dtype=bool)
    return np.concatenate([order[~miss], order[miss]])


# ---------------------------------------------------------------------------------------------
# Scoring, feasibility, Pareto front, ranking


def cap_infeasible(pred: dict[str, dict[str, np.ndarray]], preset: Preset) -> np.ndarray:
    """True where some resource's lower 95 % bound already exceeds the preset cap."""
    bad = np.zeros(len(pred["energy_kwh"]["lo"]), dtype=bool)
    for resource, _ in RESOURCES:
        bad |= np.asarray(pred[resource]["lo"], dtype=float) > preset.cap(resource)
    return bad


def fit_shortfall(pred: dict[str, dict[str, np.ndarray]], preset: Preset) -> np.ndarray:
    """How far the predicted rigidity and tightness fall below the requirements (0 = both met)."""
    rig = np.maximum(0.0, preset.rigidity - np.asarray(pred["rigidity"]["value"], dtype=float))
    tight = np.maximum(0.0, preset.tightness - np.asarray(pred["tightness"]["value"], dtype=float))
    return rig + tight


def resource_load(pred: dict[str, dict[str, np.ndarray]], preset: Preset) -> np.ndarray:
    """Mean over the resources of predicted use / cap (unit-free)."""
    shares = [np.asarray(pred[r]["value"], dtype=float) / max(preset.cap(r), 1e-12) for r, _ in RESOURCES]
    return np.mean(shares, axis=0)


def pareto_mask(objectives: np.ndarray) -> np.ndarray:
    """Non-dominated rows of `objectives` [n, k] (all minimised); of identical rows only the first is kept."""
    objectives = np.asarray(objectives, dtype=float)
    n = len(objectives)
    if n == 0:
        return np.zeros(0, dtype=bool)
    # Visiting rows by ascending sum removes dominated rows early; a stable sort keeps ties in input order.
    order = np.argsort(objectives.sum(axis=1), kind="stable")
    points = objectives[order]
    alive = np.arange(n)
    i = 0
    while i < len(alive):
        current = points[alive[i]]
        others = points[alive]
        strictly_better_somewhere = np.any(others < current, axis=1)
        strictly_better_somewhere[i] = True
        alive = alive[strictly_better_somewhere]
        i = int(np.sum(strictly_better_somewhere[:i])) + 1
    mask = np.zeros(n, dtype=bool)
    mask[order[alive]] = True
    return mask


def drivers(X_rows: np.ndarray, X_all: np.ndarray, feature_names: Sequence[str],
            importances: dict[str, np.ndarray] | None, targets: Sequence[str], k: int) -> list[dict[str, list[dict]]]:
    """Per row and target, the k features with the largest |importance x z-score| (signed)."""
    mean = X_all.mean(axis=0)
    std = X_all.std(axis=0)
    z = np.where(std > 0, (X_rows - mean) / np.where(std > 0, std, 1.0), 0.0)
    uniform = np.full(len(feature_names), 1.0 / max(len(feature_names), 1))
    out = []
    for i in range(len(X_rows)):
        per_target = {}
        for target in targets:
            weight = importances.get(target, uniform) if importances else uniform
            contribution = weight * z[i]
            top = np.argsort(-np.abs(contribution), kind="stable")[:k]
            per_target[target] = [{"feature": feature_names[j], "contribution": round(float(contribution[j]), 6),
                                   "value": round(float(X_rows[i, j]), 6)} for j in top if contribution[j] != 0]
        out.append(per_target)
    return out


@dataclass
class Recommendation:
    preset: Preset
    source: str
    model_version: str | None
    counts: dict[str, int]
    ranked: pd.DataFrame            # top N, best first
    pareto: pd.DataFrame            # the front (objectives + recipe ids)
    scatter: pd.DataFrame           # objectives of every feasible candidate (for the plot)
    settings: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    calibrated_on: dict[str, str] | None = None   # the scorer's: target -> measured | simulated | uncalibrated
    coverage_target: float = 0.95                 # nominal level of the intervals p_meets is computed from

    def to_dict(self) -> dict:
        rows = []
        for rec in self.ranked.to_dict("records"):
            rows.append({
                "rank": int(rec["rank"]), "recipe_id": rec["recipe_id"], "recipe": rec["recipe"], "label": rec["label"],
                "p_meets": rec["p_meets"], "interval_meets": bool(rec["interval_meets"]),
                "resource_load": rec["resource_load"],
                "score": rec["score"], "fit_shortfall": rec["fit_shortfall"], "on_pareto": bool(rec["on_pareto"]),
                "novelty": None if pd.isna(rec["novelty"]) else rec["novelty"],
                "prediction": rec["prediction"], "drivers": rec["drivers"],
                **({"measured": rec["measured"]} if rec.get("measured") else {}),
            })
        return {"target": self.preset.__dict__, "source": self.source, "model_version": self.model_version,
                "calibrated_on": self.calibrated_on, "coverage_target": self.coverage_target,
                "counts": self.counts, "settings": self.settings, "recommendations": rows,
                "pareto_front": self.pareto.to_dict("records")}

    def to_json(self) -> str:
        return json.dumps(jsonable(self.to_dict()), indent=2, sort_keys=True)

    def served(self) -> list:
        """The ranked recipes as inference-log entries (`inference_log.Served`)."""
        from rexai_assets.inference_log import served_from_spec

        return [served_from_spec(r["recipe"], r["prediction"], r["recipe_id"]) for r in self.ranked.to_dict("records")]


def top_positions(ctx: Any, cands: Candidates, ranked: np.ndarray, n_top: int, measured: dict | None,
                  preset: Preset) -> np.ndarray:
    """The first `n_top` of `ranked` (candidate positions, best first), measured misses behind all others.

    Only the head can change: with k measured recipes, the first n_top + k positions hold n_top that are not
    misses (if the candidates have them), so only those few are keyed and checked."""
    if not measured:
        return ranked[:n_top]
    head = ranked[:n_top + len(measured)]
    keys = [r["recipe_id"] for r in recipe_records(ctx, cands, head)]   # candidate ids are content keys
    return demote_measured_misses(head, keys, measured, preset)[:n_top]


def rank_candidates(ctx: Any, cands: Candidates, scorer: Any, preset: Preset, cfg: RecommendationSettings,
                    top_n: int | None = None, measured: dict | None = None) -> Recommendation:
    """Score every candidate in one batch, drop cap-infeasible ones, build the Pareto front and the top list."""
    started = time.perf_counter()
    pred = scorer.predict(cands.X)
    scored = time.perf_counter()
    coverage = float(getattr(scorer, "coverage_target", 0.95))
    infeasible = cap_infeasible(pred, preset)
    feasible = np.flatnonzero(~infeasible)
    shortfall = fit_shortfall(pred, preset)
    load = resource_load(pred, preset)
    score = 1.0 - shortfall - cfg.resource_weight * load
    probability = p_meets(pred, preset, coverage)
    whole_interval = interval_meets(pred, preset)
    objectives = np.column_stack([shortfall] + [np.asarray(pred[r]["value"], dtype=float) for r, _ in RESOURCES])
    front_local = pareto_mask(objectives[feasible])
    on_front = np.zeros(len(cands), dtype=bool)
    on_front[feasible[front_local]] = True

    n_top = top_n or cfg.top_n
    # Whole interval meets, then p_meets (floored to 0.01), then resource load, then draw order; measured misses last.
    top = top_positions(ctx, cands, feasible[ranking_order(whole_interval[feasible], probability[feasible],
                                                          load[feasible])], n_top, measured, preset)
    # Novelty of the whole pool (not just the top rows): scored once with the predictions and kept with them.
    novelty = scorer.novelty(cands.X)[top] if len(top) else np.zeros(0)
    records = recipe_records(ctx, cands, top)
    drv = drivers(cands.X[top], cands.X, scorer.feature_names, scorer.importances, scorer.target_names,
                  cfg.top_features)
    rows = []
    for position, (i, rec) in enumerate(zip(top, records)):
        prediction = {t: {"value": float(pred[t]["value"][i]), "lo": float(pred[t]["lo"][i]), "hi": float(pred[t]["hi"][i])}
                      for t in scorer.target_names}
        rows.append({"rank": position + 1, **rec, "process_id": rec["recipe"]["process_id"],
                     "regolith_frac": rec["recipe"]["regolith_frac"],
                     "p_meets": round(float(probability[i]), 4), "interval_meets": bool(whole_interval[i]),
                     "resource_load": float(load[i]), "score": float(score[i]),
                     "fit_shortfall": float(shortfall[i]), "on_pareto": bool(on_front[i]),
                     "novelty": float(novelty[position]), "prediction": prediction, "drivers": drv[position],
                     "measured": (measured or {}).get(rec["recipe_id"]),  # candidate ids are content keys
                     **{t: prediction[t]["value"] for t in scorer.target_names},
                     **{f"{t}_lo": prediction[t]["lo"] for t in scorer.target_names},
                     **{f"{t}_hi": prediction[t]["hi"] for t in scorer.target_names}})
    ranked = pd.DataFrame(rows)
    front_idx = np.flatnonzero(on_front)
    front_records = recipe_records(ctx, cands, front_idx)
    pareto = pd.DataFrame({"recipe_id": [r["recipe_id"] for r in front_records],
                           "label": [r["label"] for r in front_records],
                           **{name: objectives[front_idx, j] for j, name in enumerate(OBJECTIVES)},
                           "score": score[front_idx]}).sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    scatter = pd.DataFrame({name: objectives[feasible, j] for j, name in enumerate(OBJECTIVES)})
    scatter["on_pareto"] = on_front[feasible]
    counts = {"drawn": cands.drawn, "mass_rejected": cands.mass_rejected, "scored": len(cands),
              "cap_infeasible": int(infeasible.sum()), "feasible": int(len(feasible)), "pareto": int(on_front.sum()),
              "ranked": int(len(ranked))}
    calibrated_on = getattr(scorer, "calibrated_on", None)
    return Recommendation(preset, scorer.source, scorer.version, counts, ranked, pareto, scatter,
                          settings=dict(cfg.model_dump(), top_n=n_top),
                          seconds={"score": scored - started, "rank": time.perf_counter() - scored},
                          calibrated_on=None if calibrated_on is None else dict(calibrated_on),
                          coverage_target=coverage)


def recommend(tables: Any, preset_name: str, scorer: Any, cfg: RecommendationSettings | None = None,
              top_n: int | None = None, ctx: Any = None, measured: dict | None = None) -> Recommendation:
    """The whole recommendation for one preset (raises UnknownPreset with the valid names)."""
    from rexai_assets.gold.features import feature_context

    cfg = cfg or serving_settings().recommendations
    preset = preset_from_frame(tables.presets, preset_name)
    ctx = ctx or feature_context(tables)
    if tuple(ctx.names) != tuple(scorer.feature_names):
        from rexai_assets.models.scorer import ServingError

        raise ServingError("the model's feature names/order differ from the current feature contract")
    started = time.perf_counter()
    cands = sample_candidates(ctx, tables.inventory, cfg.candidates, cfg.seed, cfg.batch_kg)
    sampled = time.perf_counter()
    result = rank_candidates(ctx, cands, scorer, preset, cfg, top_n, measured)
    result.seconds["sample"] = sampled - started
    return result


# ---------------------------------------------------------------------------------------------
# Presentation


def markdown_table(rec: Recommendation, max_rows: int | None = None) -> str:
    from rexai_assets.models.scorer import calibration_note

    header = (f"**{rec.preset.name}** (rigidity >= {rec.preset.rigidity}, tightness >= {rec.preset.tightness}; caps "
              f"energy {rec.preset.max_energy_kwh} kWh/kg, water {rec.preset.max_water_l} L/kg, crew "
              f"{rec.preset.max_crew_min} min/kg) — source `{rec.source}`"
              + (f" v{rec.model_version}" if rec.model_version else "") + "\n\n"
              + f"{calibration_note(rec.calibrated_on, (*FIT_TARGETS, *(r for r, _ in RESOURCES)))}. "
              + f"p_meets: probability of meeting every requirement ({rec.coverage_target:.0%} intervals read as "
              + "split normals, targets independent); interval: the whole interval meets the preset.\n\n")
    if rec.ranked.empty:
        return header + "_No candidate is within the caps._\n"
    lines = ["| # | recipe | p_meets | interval | score | shortfall | rigidity | tightness | energy kWh | water L | crew min | novelty | pareto | drivers (rigidity) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for rec_row in rec.ranked.head(max_rows or len(rec.ranked)).to_dict("records"):
        cell = lambda t: f"{rec_row[t]:.3g} [{rec_row[t + '_lo']:.3g}, {rec_row[t + '_hi']:.3g}]"  # noqa: E731
        drivers_text = ", ".join(f"{d['feature']}{'+' if d['contribution'] > 0 else '-'}"
                                 for d in rec_row["drivers"].get("rigidity", []))
        novelty = "-" if pd.isna(rec_row["novelty"]) else f"{rec_row['novelty']:.3g}"
        lines.append(f"| {rec_row['rank']} | `{rec_row['recipe_id']}` {rec_row['label']} | {rec_row['p_meets']:.4f} | "
                     f"{'meets' if rec_row['interval_meets'] else 'no'} | {rec_row['score']:.3f} | "
                     f"{rec_row['fit_shortfall']:.3f} | {cell('rigidity')} | {cell('tightness')} | {cell('energy_kwh')} | "
                     f"{cell('water_l')} | {cell('crew_min')} | {novelty} | {'yes' if rec_row['on_pareto'] else 'no'} | "
                     f"{drivers_text} |")
    return header + "\n".join(lines) + "\n"


def pareto_png(rec: Recommendation) -> bytes:
    """Fit shortfall against each resource: feasible candidates, the Pareto front and the top list."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
    sc = rec.scatter
    for ax, (resource, _) in zip(axes, RESOURCES):
        ax.scatter(sc[resource], sc["fit_shortfall"], s=3, c="#bbbbbb", label="feasible candidates", rasterized=True)
        front = sc[sc["on_pareto"]]
        ax.scatter(front[resource], front["fit_shortfall"], s=12, c="#d62728", label="Pareto front (4 objectives)")
        if not rec.ranked.empty:
            ax.scatter(rec.ranked[resource], rec.ranked["fit_shortfall"], s=40, facecolors="none",
                       edgecolors="#1f77b4", label=f"top {len(rec.ranked)}")
        ax.axvline(rec.preset.cap(resource), color="k", ls="--", lw=0.8, label="cap")
        ax.set_xlabel(f"{resource} (per kg of product)")
        ax.set_ylabel("fit shortfall (rigidity + tightness)")
    axes[0].legend(fontsize=7, loc="upper right")
    fig.suptitle(f"{rec.preset.name}: {rec.counts['feasible']} feasible of {rec.counts['scored']} scored "
                 f"({rec.source}{' v' + rec.model_version if rec.model_version else ''})")
    return png_bytes(fig)


def write_outputs(rec: Recommendation, folder: Path) -> dict[str, Path]:
    """`<folder>/<preset>.json`, `.md` and `_pareto.png`, each written atomically."""
    from rexai_assets.atomic import write_bytes_atomic, write_text_atomic

    folder = Path(folder)
    png = pareto_png(rec)
    return {
        "json": write_text_atomic(folder / f"{rec.preset.name}.json", rec.to_json() + "\n"),
        "markdown": write_text_atomic(folder / f"{rec.preset.name}.md", markdown_table(rec)),
        "png": write_bytes_atomic(folder / f"{rec.preset.name}_pareto.png", png),
    }
