"""How far can choosing the lab's experiments take the measured correction? `python -m rexai_assets.planning.ceiling`.

The planning benchmark's goal 1 asks 200 planned experiments to teach the model as much as 600 random ones.
This command measures the most any choice rule can hope for here, outside the platform (no runs, no
ensemble training: seconds per round instead of a minute), with the platform's own parts: per reality of
`loop/realities.py`, the benchmark's holdout (`bench.make_lab`), a pool of inventory-feasible recipes measured
once each with `reality.measure` (one noise stream for every strategy), and the measured correction exactly as
the models layer fits it (`models.correction.cross_fit_correction`, models.yaml's `correction` settings, the
costs on the correction's log scale). The prior is the simulator's noise-free model, which the
simulator-trained ensemble learns (a slightly better prior than the served one; the correction's job is the
same: learn where reality departs from the simulator).

Every strategy starts from the same `--bootstrap` random recipes and adds `--per-round` per round:

- `random`: inventory-feasible random recipes, `--random-factor` times as many rounds;
- `committee`: the shipped explore rule (`acquisition.coverage_pick` weighted by the correction's fold-model
  spread over the served values' spread, averaged over targets);
- `oracle`: the same coverage weighted by each pool recipe's *true* current error (mean over targets of
  |served - noise-free reality| / the target's sd), which no planner can know;
- `oracle_top`: the recipes with the largest true current error (`acquisition.diverse_pick`, kept apart by
  planning.yaml's `min_distance`).

The oracles are a ceiling for rules that send the lab where the model is wrong: if they do not reach goal 1,
no estimate of where the model is wrong will. It prints the holdout MAE / sd per round and strategy, goal 1
per strategy (targets within 10 % of random at `--random-factor` times the budget) and the random budget each
strategy's final error is worth ("efficiency": random experiments needed / experiments chosen), and writes
`<data root>/benchmarks/planning/ceiling.json` and `ceiling.png` (the curves, shown in `experiment_plan`'s metadata).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rexai_assets.planning.bench import MAE_LABEL, mae_within, make_lab, normalised_mae, t_interval
from rexai_assets.plots import png_bytes

CEILING_STRATEGIES = ("random", "committee", "oracle", "oracle_top")


@dataclass
class CorrectionLab:
    """One reality as the correction sees it: pool and holdout features, prior and truth, one measurement each."""

    targets: tuple[str, ...]
    pool_X: np.ndarray
    pool_prior: np.ndarray
    pool_truth: np.ndarray
    pool_measured: np.ndarray     # one noisy measurement per pool recipe (NaN where the lab lost the value)
    holdout_X: np.ndarray
    holdout_prior: np.ndarray
    holdout_truth: np.ndarray
    truth_sd: np.ndarray          # each target's sd in reality over the holdout (bench.make_lab_scale's)
    scales: dict[str, Any]        # the correction's TargetScale per target (log(y + offset) for the costs)
    Z: np.ndarray                 # the pool's standardised features (acquisition)


def noise_free_prior(features: Any, targets: tuple[str, ...]) -> np.ndarray:
    """The simulator's noise-free targets: what the simulator-trained ensemble learns."""
    from rexai_assets.gold.contract import SimulatorNoise
    from rexai_assets.gold.simulator import simulate

    silent = SimulatorNoise(rigidity_logit=0.0, tightness_logit=0.0, energy_rel=0.0, water_abs=0.0, crew_rel=0.0)
    return simulate(features, seed=0, noise=silent)[list(targets)].to_numpy(float)


def make_correction_lab(seed: int, pool_size: int, tables: Any) -> CorrectionLab:
    from rexai_assets.contract import TARGETS, feature_names
    from rexai_assets.gold.candidates import recipe_candidates_pool
    from rexai_assets.models.ensemble import CORRECTION_OFFSET_SHARE, target_scale
    from rexai_assets.planning.acquisition import standardise, standardiser

    targets, names = tuple(TARGETS), list(feature_names())
    lab = make_lab(seed, tables)
    pool = recipe_candidates_pool(tables, size=pool_size, seed=seed + 9001)[names].reset_index(drop=True)
    pool_prior = noise_free_prior(pool, targets)
    measured = lab.reality.measure(pool, np.random.default_rng(seed + 5))
    # The correction's scales, the costs' offsets from the simulated values as in training.
    scales = {t: target_scale(t, pool_prior[:, j], CORRECTION_OFFSET_SHARE) for j, t in enumerate(targets)}
    X = pool.to_numpy(float)
    return CorrectionLab(targets, X, pool_prior, lab.reality.truth(pool)[list(targets)].to_numpy(float),
                         measured[list(targets)].to_numpy(float), lab.holdout[names].to_numpy(float),
                         noise_free_prior(lab.holdout, targets), lab.holdout_truth[list(targets)].to_numpy(float),
                         lab.holdout_truth[list(targets)].std().to_numpy(float), scales,
                         standardise(X, standardiser(X)))


def fit_correction(lab: CorrectionLab, rows: np.ndarray, seed: int) -> Any:
    """The measured correction on the measured pool rows `rows` (models.yaml's settings)."""
    from rexai_assets.models.config import models_config
    from rexai_assets.models.correction import cross_fit_correction

    cfg = models_config().correction
    Y = np.column_stack([lab.scales[t].forward(lab.pool_measured[rows, j]) for j, t in enumerate(lab.targets)])
    prior = np.column_stack([lab.scales[t].forward(lab.pool_prior[rows, j]) for j, t in enumerate(lab.targets)])
    n = len(rows)
    correction = cross_fit_correction(lab.pool_X[rows], Y, np.ones(n), prior, np.ones(n, dtype=bool),
                                      rows.astype(str), lab.targets, cfg, seed).correction
    correction.offsets = {t: scale.offset for t, scale in lab.scales.items()}
    return correction


def served(correction: Any, X: np.ndarray, prior: np.ndarray, targets: tuple[str, ...]) -> np.ndarray:
    return np.column_stack([correction.apply(X, prior[:, j], t) for j, t in enumerate(targets)])


def committee_uncertainty(correction: Any, lab: CorrectionLab) -> np.ndarray:
    """The shipped explore's uncertainty (acquisition.explore_uncertainty): per target the fold models' spread over
    the served values' spread, the mean over targets. There is no served interval here to fall back on, so a target
    without a committee yet (fewer than min_rows measurements) counts as certain."""
    from rexai_assets.planning.acquisition import committee_spread

    spread = np.column_stack([correction.spread(lab.pool_X, lab.pool_prior[:, j], t) for j, t in enumerate(lab.targets)])
    served_on_scale = np.column_stack([lab.scales[t].forward(correction.apply(lab.pool_X, lab.pool_prior[:, j], t))
                                       for j, t in enumerate(lab.targets)])
    per_target = [committee_spread(spread, served_on_scale, j) for j in range(len(lab.targets))]
    return np.mean([np.zeros(len(spread)) if r is None else r for r in per_target], axis=0)


def true_error(correction: Any, lab: CorrectionLab) -> np.ndarray:
    """Per pool recipe, mean over targets of |served - reality| / the target's sd: what only an oracle knows."""
    return np.mean(np.abs(served(correction, lab.pool_X, lab.pool_prior, lab.targets) - lab.pool_truth) / lab.truth_sd,
                   axis=1)


def choose(strategy: str, correction: Any, lab: CorrectionLab, measured: np.ndarray, k: int, round_seed: int,
           min_distance: float, demand_points: int) -> list[int]:
    """`k` pool positions not measured yet, by `strategy`."""
    from rexai_assets.planning.acquisition import coverage_pick, diverse_pick

    eligible = np.ones(len(lab.pool_X), dtype=bool)
    eligible[measured] = False
    rng = np.random.default_rng(round_seed)
    if strategy == "random":
        return [int(i) for i in rng.permutation(np.flatnonzero(eligible))[:k]]
    if strategy == "oracle_top":
        return diverse_pick(true_error(correction, lab), lab.Z, k, min_distance, [], eligible, 20 * k)
    weight = committee_uncertainty(correction, lab) if strategy == "committee" else true_error(correction, lab)
    candidates = np.flatnonzero(eligible)
    candidates = rng.choice(candidates, min(demand_points, len(candidates)), replace=False)
    return [p for p, _ in coverage_pick(weight, lab.Z, k, candidates, lab.Z[measured], min_distance)]


def holdout_mae(correction: Any, lab: CorrectionLab) -> dict[str, float]:
    error = np.abs(served(correction, lab.holdout_X, lab.holdout_prior, lab.targets) - lab.holdout_truth).mean(axis=0)
    return {t: float(e) for t, e in zip(lab.targets, error)}


def run_strategy(strategy: str, lab: CorrectionLab, rounds: int, per_round: int, bootstrap: np.ndarray,
                 seed: int) -> list[dict]:
    """Rows per round (budget, MAE per target): the correction refitted after every round, as the loop does."""
    from rexai_assets.planning.config import planning_settings

    plan = planning_settings()
    measured = np.array(bootstrap, dtype=int)
    rows = []
    for r in range(rounds + 1):
        correction = fit_correction(lab, measured, seed)
        rows.append({"round": r, "budget": r * per_round, "measured": int(len(np.unique(measured))),
                     "mae": holdout_mae(correction, lab)})
        if r < rounds:
            new = choose(strategy, correction, lab, measured, per_round, seed * 1000 + r, plan.min_distance,
                         plan.explore.demand_points)
            measured = np.concatenate([measured, np.array(new, dtype=int)])
    return rows


def matching_budget(random_rows: list[dict], value: float, scale: dict[str, float]) -> float | None:
    """The random budget whose normalised MAE equals `value` (linear between rounds); None beyond the last."""
    budgets = [r["budget"] for r in random_rows]
    errors = [normalised_mae(r, scale) for r in random_rows]
    if value >= errors[0]:
        return float(budgets[0])
    for (b0, e0), (b1, e1) in zip(zip(budgets, errors), zip(budgets[1:], errors[1:])):
        if e1 <= value:
            return float(b1 if e0 == e1 else b0 + (b1 - b0) * (e0 - value) / (e0 - e1))
    return None


def goal_1(curves: dict[str, list[dict]], strategy: str, rounds: int, random_factor: int,
           scale: dict[str, float]) -> dict[str, Any]:
    """`strategy` after `rounds` rounds against random at `random_factor` times the budget (per target within 10 %),
    and the random budget its error is worth (None: more than random's last round)."""
    random = curves["random"]
    final, far = curves[strategy][rounds], random[min(rounds * random_factor, len(random) - 1)]
    within = mae_within(final, far)
    worth = matching_budget(random, normalised_mae(final, scale), scale)
    return {"budget": final["budget"], "random_budget": far["budget"], "mae_within_10pct": within,
            "targets_within": int(sum(within.values())), "random_budget_matched": worth,
            "efficiency": None if worth is None or final["budget"] == 0 else worth / final["budget"]}


def goal_line(seed: int, strategy: str, goal: dict[str, Any]) -> str:
    worth = (f"{goal['random_budget_matched']:.0f} random ({goal['efficiency']:.2f}x)"
             if goal["random_budget_matched"] is not None else f"more than {goal['random_budget']} random")
    return (f"reality {seed} {strategy}: {goal['budget']} chosen vs {goal['random_budget']} random: MAE within 10 % "
            f"on {goal['targets_within']} of {len(goal['mae_within_10pct'])} targets; worth {worth}")


def run_reality(seed: int, tables: Any, rounds: int, per_round: int, bootstrap: int, random_factor: int,
                pool_size: int, strategies: tuple[str, ...]) -> dict[str, Any]:
    """Every strategy from the same bootstrap measurements in reality `seed`: curves, goal 1, seconds (printed)."""
    started = time.perf_counter()
    lab = make_correction_lab(seed, pool_size, tables)
    scale = dict(zip(lab.targets, map(float, lab.truth_sd)))
    bootstrap_rows = np.random.default_rng(seed + 11).choice(len(lab.pool_X), bootstrap, replace=False)
    curves = {s: run_strategy(s, lab, rounds * (random_factor if s == "random" else 1), per_round, bootstrap_rows, seed)
              for s in strategies}
    for s, rows in curves.items():
        print(f"reality {seed} {s:<10} MAE / sd " + " | ".join(f"{r['budget']}: {normalised_mae(r, scale):.4f}"
                                                               for r in rows), flush=True)
    goals = {s: goal_1(curves, s, rounds, random_factor, scale) for s in strategies
             if s != "random" and "random" in curves}
    for s, goal in goals.items():
        print(goal_line(seed, s, goal), flush=True)
    return {"scale": scale, "curves": curves, "goal": goals, "seconds": round(time.perf_counter() - started, 1)}


def summarise(realities: dict[int, dict[str, Any]], random_factor: int) -> dict[str, Any]:
    """Per chosen strategy, goal 1's targets within and the efficiency per reality (printed)."""
    summary = {}
    for s in next(iter(realities.values()))["goal"] if realities else ():
        eff = [r["goal"][s]["efficiency"] for r in realities.values()]
        known = np.array([e for e in eff if e is not None])
        # Realities are the independent draws; one beyond random's last round leaves the interval unknown.
        low, high = t_interval(known) if len(known) == len(eff) else (None, None)
        summary[s] = {"targets_within": [r["goal"][s]["targets_within"] for r in realities.values()], "efficiency": eff,
                      "efficiency_ci": [low, high]}
        interval = f", 95 % t-interval [{low:.2f}, {high:.2f}]" if low is not None else ""
        print(f"{s}: targets within 10 % per reality {summary[s]['targets_within']} (goal: >= 4); efficiency per reality "
              f"{', '.join(f'{e:.2f}x' if e is not None else f'> {random_factor}x' for e in eff)}"
              + (f"; mean of the {len(known)} measured {known.mean():.2f}x{interval} (goal: 3x)" if len(known) else ""),
              flush=True)
    return summary


def ceiling_png(realities: dict[int, dict[str, Any]], summary: dict[str, Any]) -> bytes:
    """Normalised MAE per budget and strategy, mean over realities (band: one sd), each chosen strategy labelled
    with its mean efficiency; the dotted line is random's last round + 10 % (goal 1 on the mean of the targets)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), constrained_layout=True)
    strategies = next(iter(realities.values()))["curves"]
    for s in strategies:
        errors = np.array([[normalised_mae(r, x["scale"]) for r in x["curves"][s]] for x in realities.values()])
        budgets = [r["budget"] for r in next(iter(realities.values()))["curves"][s]]
        efficiency = [e for e in summary.get(s, {}).get("efficiency", []) if e is not None]
        label = f"{s} ({np.mean(efficiency):.2f}x random)" if efficiency else s
        ax.plot(budgets, errors.mean(0), marker="o", label=label)
        ax.fill_between(budgets, errors.mean(0) - errors.std(0), errors.mean(0) + errors.std(0), alpha=0.15)
        if s == "random":
            ax.axhline(1.10 * errors.mean(0)[-1], linestyle=":", color="grey", label=f"random at {budgets[-1]} + 10 %")
    ax.set_ylabel(MAE_LABEL)
    ax.set_xlabel(f"measurements after the bootstrap batch (mean of {len(realities)} realities, band: sd)")
    ax.legend()
    return png_bytes(fig)


def run_ceiling(seeds: tuple[int, ...], rounds: int, per_round: int, bootstrap: int, random_factor: int,
                pool_size: int, strategies: tuple[str, ...] = CEILING_STRATEGIES,
                out_root: Path | None = None) -> dict[str, Any]:
    """Every reality in turn; the figures, also written to `<data root>/benchmarks/planning/ceiling.json`, and
    their plot beside it (`experiment_plan` shows it)."""
    from rexai_assets.atomic import write_bytes_atomic, write_text_atomic
    from rexai_assets.paths import SHIPPED_RAW_DIR, layout
    from rexai_assets.planning.service import BENCHMARK_FOLDER, CEILING_PLOT
    from rexai_assets.raw.tables import load_raw_tables

    tables = load_raw_tables(SHIPPED_RAW_DIR)
    realities = {seed: run_reality(seed, tables, rounds, per_round, bootstrap, random_factor, pool_size, strategies)
                 for seed in seeds}
    result = {"settings": {"seeds": list(seeds), "rounds": rounds, "per_round": per_round, "bootstrap": bootstrap,
                           "random_factor": random_factor, "pool": pool_size, "strategies": list(strategies)},
              "realities": realities, "summary": summarise(realities, random_factor)}
    out = Path(out_root or layout().root) / BENCHMARK_FOLDER
    write_text_atomic(out / "ceiling.json", json.dumps(result, indent=2))
    write_bytes_atomic(out / CEILING_PLOT, ceiling_png(realities, result["summary"]))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rexai_assets.planning.ceiling")
    parser.add_argument("--seeds", default="1,2,3,4,5", help="the realities (loop/realities.py), comma-separated")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--per-round", type=int, default=50)
    parser.add_argument("--bootstrap", type=int, default=150)
    parser.add_argument("--random-factor", type=int, default=3)
    parser.add_argument("--pool", type=int, default=6000, help="inventory-feasible recipes to choose from")
    parser.add_argument("--strategies", default=",".join(CEILING_STRATEGIES))
    args = parser.parse_args(argv)
    run_ceiling(tuple(int(s) for s in args.seeds.split(",") if s), args.rounds, args.per_round, args.bootstrap,
                args.random_factor, args.pool, tuple(s for s in args.strategies.split(",") if s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
