"""Active-learning benchmark (a command, not a timed test): `python -m rexai_assets.planning.bench`.

A simulated lab whose truth is a reality of `loop/realities.py` (`make_reality(seed)`), driven through the
real platform in process (like `rexai_assets_tests/loop_support.py`): per strategy a fresh data root is
bootstrapped (`rexai run`: simulator prior, champion v1) and fed the same random bootstrap batch of lab
results, then each round picks `--per-round` recipes, labels them with `reality.measure`, writes DESIGN.md
experiment records into the inbox, ingests them and retrains (gate and promotion as configured).

Strategies, at equal budgets: `planned` (the experiment plan, planning.yaml), `uncertainty` (the most
uncertain recipes in the plan's own uncertainty; no coverage, no verification, no diversity) and `random`
(inventory-feasible random recipes). Every strategy of a reality starts from the same bootstrap batch (same
recipes, same noise) and is measured on the same holdout; each round's labels use the same noise stream.
`random` runs `--random-factor` times as many rounds, so "200 planned vs 600 random" is one run. After
every round it prints, for the newest trained model (the challenger, whatever the gate decided: the line
says), the holdout MAE against the noise-free reality per target and each preset's top recommendation's
regret in reality (true resource load of the chosen recipe minus the best true load among a random pool's
recipes meeting the preset; 1 + shortfall when the chosen recipe does not meet it), and the round's wall
time. `--seeds` runs several realities one after the other (one reality is one draw: the figures to
report are their mean and spread, printed at the end, with planned - random paired by reality: the mean
difference and its 95 % t-interval over realities, and on how many (reality, target) and (reality, preset)
pairs planned is better or worse). The learning curve (mean over realities, band of
one sd) is drawn to `<data root>/benchmarks/planning/learning_curve.png` (shown in `experiment_plan`'s
metadata) with the figures in `results.json` beside it. `--small` shrinks sizes only (gold pool, model
profile, candidates).

`--latency` instead times `rexai plan-experiments --n 50 --json` in a subprocess on the current data root.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from rexai_assets.plots import png_bytes

SMALL = {"gold.yaml": {"pool_size": 3000}, "models.yaml": {"profile": "small"},
         "serving.yaml": {"recommendations": {"candidates": 3000}}}
STRATEGIES = ("planned", "uncertainty", "random")
HOLDOUT_N, REFERENCE_N = 1000, 6000
MAE_LABEL = "holdout MAE / target sd in reality (mean over targets)"


@dataclass
class Lab:
    """The reality and the fixed yardsticks: a holdout set and a random reference pool with their truth."""

    reality: Any
    holdout: pd.DataFrame          # features
    holdout_truth: pd.DataFrame
    reference_truth: pd.DataFrame  # truth of a random pool (regret's best achievable)
    presets: pd.DataFrame


@dataclass
class Curve:
    strategy: str
    rows: list[dict] = field(default_factory=list)   # one per round: budget, mae per target, regret per preset


def make_lab(seed: int, tables: Any) -> Lab:
    from rexai_assets.contract import feature_names
    from rexai_assets.gold.candidates import recipe_candidates_pool
    from rexai_assets.loop.realities import make_reality

    reality = make_reality(seed)
    names = list(feature_names())
    holdout = recipe_candidates_pool(tables, size=HOLDOUT_N, seed=seed + 7001)[names].reset_index(drop=True)
    reference = recipe_candidates_pool(tables, size=REFERENCE_N, seed=seed + 7002)[names].reset_index(drop=True)
    return Lab(reality, holdout, reality.truth(holdout).reset_index(drop=True),
               reality.truth(reference).reset_index(drop=True), tables.presets.reset_index(drop=True))


def regret(lab: Lab, chosen_truth: pd.Series, preset: pd.Series) -> float:
    from rexai_assets.loop.realities import meets_preset, resource_load, shortfall

    one = chosen_truth.to_frame().T.astype(float)
    if not meets_preset(one, preset)[0]:
        return 1.0 + float(shortfall(one, preset)[0])
    ok = meets_preset(lab.reference_truth, preset)
    best = float(resource_load(lab.reference_truth[ok], preset).min()) if ok.any() else 0.0
    return float(resource_load(one, preset)[0]) - best


def measure_model(lab: Lab, tables: Any) -> tuple[dict[str, float], dict[str, float], str]:
    """(holdout MAE per target, regret per preset, version) of the newest trained model (alias `challenger`):
    what the experiments taught, whatever the gate then decided about serving it (the round line says). The
    top recommendation is ranked as served (`rexai recommend`, `recipe_recommendations`): with the trusted
    measurements ingested so far, so a recipe the lab measured to miss a preset ranks last."""
    from rexai_assets.contract import TARGETS
    from rexai_assets.gold.features import featurize_recipes
    from rexai_assets.models.scorer import load_scorer
    from rexai_assets.paths import layout
    from rexai_assets.recipes import parse_recipe
    from rexai_assets.serving.measured import load_measured
    from rexai_assets.serving.recommend import recommend

    scorer = load_scorer(alias="challenger")
    measured = load_measured(layout().measured_snapshot)
    pred = scorer.predict(lab.holdout[list(scorer.feature_names)].to_numpy(np.float64))
    mae = {t: float(np.mean(np.abs(pred[t]["value"] - lab.holdout_truth[t].to_numpy(float)))) for t in TARGETS}
    regrets = {}
    for _, preset in lab.presets.iterrows():
        rec = recommend(tables, str(preset["name"]), scorer, top_n=1, measured=measured)
        if rec.ranked.empty:
            regrets[str(preset["name"])] = 2.0  # nothing recommended: worse than any recipe that misses
            continue
        recipe = parse_recipe(rec.ranked.iloc[0]["recipe"])
        truth = lab.reality.truth(featurize_recipes([recipe], tables).reset_index(drop=True)).iloc[0]
        regrets[str(preset["name"])] = regret(lab, truth, preset)
    return mae, regrets, str(scorer.version)


# ---------------------------------------------------------------------------------------------
# Choosing, labelling and learning


def recipes_frame(recipes: list[Any], tables: Any) -> pd.DataFrame:
    """recipe_id, process_id, recipe_spec (DESIGN.md JSON) and the features of parsed recipes."""
    from rexai_assets.gold.features import featurize_recipes

    features = featurize_recipes(recipes, tables).reset_index(drop=True)
    ids = pd.DataFrame({"recipe_id": [r.recipe_id for r in recipes], "process_id": [r.process_id for r in recipes],
                        "recipe_spec": [r.to_json() for r in recipes]})
    return pd.concat([ids, features], axis=1)


def random_recipes(tables: Any, n: int, seed: int, exclude: set[str]) -> list[Any]:
    """`n` inventory-feasible recipes of the serving sampler drawn with `seed`, none in `exclude`."""
    from rexai_assets.gold.feasible import recipe_records, sample_candidates
    from rexai_assets.gold.features import feature_context
    from rexai_assets.planning.config import pool_settings
    from rexai_assets.recipes import parse_recipe

    ctx = feature_context(tables)
    cands = sample_candidates(ctx, tables.inventory, n + len(exclude), seed, pool_settings()[1])
    records = [r for r in recipe_records(ctx, cands, range(len(cands))) if r["recipe_id"] not in exclude]
    return [parse_recipe(r["recipe"]) for r in records[:n]]


def planned_recipes(strategy: str, tables: Any, n: int) -> list[Any]:
    """The platform's plan (stored, like `rexai plan-experiments`), or the uncertainty-only baseline."""
    from rexai_assets.paths import layout
    from rexai_assets.planning.config import ExploreSettings, MixSettings, planning_settings
    from rexai_assets.planning.service import load_version, make_plan
    from rexai_assets.recipes import parse_recipe
    from rexai_assets.warehouse import WarehouseClient, warehouse_path

    cfg = planning_settings()
    if strategy == "uncertainty":
        cfg = cfg.model_copy(update={"mix": MixSettings(explore=1.0, verify=0.0, disagreement=0.0),
                                     "explore": ExploreSettings(coverage=False), "min_distance": 0.0})
    plan = make_plan(WarehouseClient(warehouse_path()), tables, load_version(layout().tracking_uri), n=n, cfg=cfg)
    return [parse_recipe(e.recipe) for e in plan.experiments]


def measured_ids() -> set[str]:
    from rexai_assets.planning.store import measured_recipes
    from rexai_assets.warehouse import WarehouseClient, warehouse_path

    with WarehouseClient(warehouse_path()).connect() as con:
        return {rid for rid, _ in measured_recipes(con)}


def feed_and_retrain(platform: Any, lab: Lab, tables: Any, recipes: list[Any], prefix: str, day_offset: int,
                     seed: int) -> str:
    """Label `recipes` in reality, log them as one day of lab results, ingest them, retrain and vote; the decision."""
    from rexai_assets.contract import feature_names
    from rexai_assets.loop.synthetic import experiment_records, utc_today, write_experiments
    from rexai_assets.paths import layout
    from rexai_assets.ops.pipeline import ingest_inbox, run_job

    frame = recipes_frame(recipes, tables)
    labels = lab.reality.measure(frame[list(feature_names())], np.random.default_rng(seed))
    records = experiment_records(frame, labels.reset_index(drop=True), utc_today() - timedelta(days=day_offset),
                                 per_day=max(len(frame), 1), prefix=prefix)
    write_experiments(layout().ensure(), records)
    defs, instance = platform
    steps = ingest_inbox(defs, instance, layout().ensure())
    if not all(s.success for s in steps):
        raise RuntimeError(f"ingestion failed: {[s.line() for s in steps]}")
    if not run_job(defs, "retrain_job", instance, tags={"rexai/trigger": "bench"}).success:
        return "retrain failed"
    return second_vote(defs)


def second_vote(defs: Any) -> str:
    """The simulated reviewer: a REVIEW (passed every criterion, improvement under 1 %) is approved, as a person
    would once measurements decide; a REJECT is never applied. The gate itself is untouched."""
    from rexai_assets.evaluation.promotion import PENDING, desk_from_resources, fetch_proposals

    desk = desk_from_resources(defs.resources)
    with desk.connect() as con:
        proposal = fetch_proposals(con, limit=1)[0]
    if proposal.status == PENDING and proposal.recommendation == "REVIEW":
        desk.decide(proposal.proposal_id, "bench:simulated-reviewer", approve=True, notes="benchmark second vote")
        return f"REVIEW v{proposal.challenger_version} approved"
    failed = [c["detail"] for c in proposal.criteria if not c["passed"]]
    return f"{proposal.recommendation} v{proposal.challenger_version} {proposal.status}" + (f" ({failed[0]})" if failed else "")


def run_strategy(strategy: str, lab_seed: int, rounds: int, per_round: int, bootstrap: int) -> Curve:
    """A fresh platform (the current data root), the shared bootstrap batch, then `rounds` rounds of `strategy`;
    the champion measured after each."""
    import dagster as dg

    from rexai_assets.definitions import build_definitions
    from rexai_assets.paths import layout
    from rexai_assets.ops.pipeline import run_platform
    from rexai_assets.raw.tables import load_raw_tables

    platform = (build_definitions(), dg.DagsterInstance.get())
    outcome = run_platform(*platform, trigger="bench")
    if not outcome.success:
        raise RuntimeError(f"{strategy}: bootstrap failed: {[s.line() for s in outcome.steps if not s.success]}")
    tables = load_raw_tables(layout().raw)
    lab = make_lab(lab_seed, tables)
    curve = Curve(strategy)
    total_days = rounds + 2
    first = random_recipes(tables, bootstrap, lab_seed + 11, set())  # the same batch for every strategy
    decision = feed_and_retrain(platform, lab, tables, first, "boot", total_days, lab_seed)
    for r in range(rounds + 1):
        started = time.perf_counter()
        if r > 0:
            recipes = (random_recipes(tables, per_round, lab_seed + 100 + r, measured_ids()) if strategy == "random"
                       else planned_recipes(strategy, tables, per_round))
            decision = feed_and_retrain(platform, lab, tables, recipes, f"{strategy}-r{r}", total_days - r,
                                        lab_seed * 1000 + r)
        mae, regrets, version = measure_model(lab, tables)
        row = {"round": r, "budget": r * per_round, "model": version, "decision": decision, "mae": mae,
               "regret": regrets, "seconds": round(time.perf_counter() - started, 1)}
        curve.rows.append(row)
        print(f"reality {lab_seed} " + round_line(strategy, row), flush=True)
    return curve


def round_line(strategy: str, row: dict) -> str:
    mae = " ".join(f"{t} {v:.4g}" for t, v in row["mae"].items())
    regret_text = " ".join(f"{p} {v:.3f}" for p, v in row["regret"].items())
    return (f"{strategy:<11} round {row['round']:>2} ({row['budget']:>4} lab results + bootstrap; model "
            f"v{row['model']}, {row['decision']}): MAE {mae} | regret {regret_text} "
            f"(mean {mean_regret(row):.3f}; {row['seconds']:.0f} s)")


def mae_cells(row: dict, scale: dict[str, float]) -> list[float]:
    """Per target (name order), MAE / the target's standard deviation in reality (unit-free)."""
    return [row["mae"][t] / scale[t] for t in sorted(row["mae"])]


def regret_cells(row: dict, scale: dict[str, float] | None = None) -> list[float]:
    """Per preset (name order), the top recommendation's regret (`scale` unused: regret is unit-free)."""
    return [row["regret"][p] for p in sorted(row["regret"])]


def normalised_mae(row: dict, scale: dict[str, float]) -> float:
    """Mean over targets of MAE / the target's standard deviation in reality."""
    return float(np.mean(mae_cells(row, scale)))


def mean_regret(row: dict) -> float:
    return float(np.mean(regret_cells(row)))


def mean_curve(runs: list[dict[str, list[dict]]], strategy: str, scale: list[dict[str, float]]) -> dict[str, np.ndarray]:
    """Per round of `strategy`: budget, and mean and sd over realities of normalised MAE and mean regret."""
    rows = [run[strategy] for run in runs]
    n = min(len(r) for r in rows)
    mae = np.array([[normalised_mae(r[i], s) for i in range(n)] for r, s in zip(rows, scale)])
    reg = np.array([[mean_regret(r[i]) for i in range(n)] for r in rows])
    return {"budget": np.array([rows[0][i]["budget"] for i in range(n)]), "mae": mae.mean(0), "mae_sd": mae.std(0),
            "regret": reg.mean(0), "regret_sd": reg.std(0)}


def learning_curve_png(runs: list[dict[str, list[dict]]], scale: list[dict[str, float]]) -> bytes:
    """Normalised MAE and mean regret per budget, mean over realities with a band of one sd."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for strategy in runs[0]:
        curve = mean_curve(runs, strategy, scale)
        for ax, key in zip(axes, ("mae", "regret")):
            ax.plot(curve["budget"], curve[key], marker="o", label=strategy)
            ax.fill_between(curve["budget"], curve[key] - curve[f"{key}_sd"], curve[key] + curve[f"{key}_sd"], alpha=0.15)
    axes[0].set_ylabel(MAE_LABEL)
    axes[1].set_ylabel("mean regret of the top recommendation per preset")
    for ax in axes:
        ax.set_xlabel(f"lab experiments after the bootstrap batch (mean of {len(runs)} realities, band: sd)")
        ax.legend()
    return png_bytes(fig)


def mae_within(row: dict, reference: dict, tolerance: float = 0.10) -> dict[str, bool]:
    """Per target, whether `row`'s holdout MAE is within `tolerance` of `reference`'s (goal 1's test)."""
    return {t: row["mae"][t] <= (1.0 + tolerance) * reference["mae"][t] for t in row["mae"]}


def goals(curves: dict[str, list[dict]], per_round: int, rounds: int, factor: int) -> dict[str, Any]:
    """The issue's two goals in one reality: planned at `rounds` rounds against random at `factor` x the
    budget (MAE within 10 % per target) and against random at the same budget (mean regret)."""
    planned, random = curves["planned"][rounds], curves["random"]
    far = random[min(rounds * factor, len(random) - 1)]
    within = mae_within(planned, far)
    return {"planned_budget": rounds * per_round, "random_budget": far["budget"],
            "mae_within_10pct": within, "targets_within": int(sum(within.values())),
            "planned_mean_regret": mean_regret(planned), "random_mean_regret_same_budget": mean_regret(random[rounds])}


def paired_comparison(runs: list[dict[str, list[dict]]], scale: list[dict[str, float]], strategy: str = "planned",
                      baseline: str = "random") -> list[dict[str, Any]]:
    """`strategy` - `baseline` at every budget above 0 that both reached, paired by reality (same start, holdout
    and noise stream): per measure (normalised MAE, mean regret) the mean over realities of the difference with
    a 95 % t-interval (realities are the independent draws: None with fewer than two), and on how many
    (reality, target) or (reality, preset) pairs `strategy` is better / worse. Below 0 = `strategy` better."""
    by_budget = [({r["budget"]: r for r in run[strategy]}, {r["budget"]: r for r in run[baseline]}, s)
                 for run, s in zip(runs, scale) if strategy in run and baseline in run]
    budgets = sorted(set.intersection(*(set(a) & set(b) for a, b, _ in by_budget)) - {0}) if by_budget else []
    out = []
    for budget in budgets:
        row: dict[str, Any] = {"budget": budget, "realities": len(by_budget)}
        for name, cells in (("mae", mae_cells), ("regret", regret_cells)):
            # Per reality, the differences per target (preset); their mean is that reality's difference in
            # normalised MAE (mean regret).
            per_reality = [np.subtract(cells(a[budget], s), cells(b[budget], s)) for a, b, s in by_budget]
            d, c = np.array([x.mean() for x in per_reality]), np.concatenate(per_reality)
            row[name] = {"mean_difference": float(d.mean()), **dict(zip(("ci_low", "ci_high"), t_interval(d))),
                         "pairs": int(len(c)), "better": int((c < -1e-12).sum()), "worse": int((c > 1e-12).sum())}
        out.append(row)
    return out


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float | None, float | None]:
    """The t-interval of the mean of `values` (None, None with fewer than two: results.json stays strict JSON)."""
    from scipy.stats import t as student_t

    if len(values) < 2:
        return None, None
    half = float(student_t.ppf((1 + level) / 2, len(values) - 1) * np.std(values, ddof=1) / np.sqrt(len(values)))
    return float(np.mean(values) - half), float(np.mean(values) + half)


def comparison_lines(comparison: list[dict[str, Any]], strategy: str = "planned", baseline: str = "random") -> list[str]:
    lines = []
    for row in comparison:
        parts = []
        for measure, label in (("mae", "MAE / sd"), ("regret", "mean regret")):
            m = row[measure]
            interval = (f"[{m['ci_low']:+.4f}, {m['ci_high']:+.4f}]" if m["ci_low"] is not None
                        else "[no interval from one reality]")
            parts.append(f"{label} {m['mean_difference']:+.4f} {interval} "
                         f"({strategy} better on {m['better']}, worse on {m['worse']} of {m['pairs']} pairs)")
        lines.append(f"{strategy} - {baseline} at {row['budget']} ({row['realities']} realities, 95 % t-interval): "
                     + "; ".join(parts))
    return lines


# Locations that would otherwise outlive a strategy's data root: MLflow exports the tracking URI it is given
# to the environment, so the next strategy would register its models in the previous one's registry.
LOCATION_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "REXAI_WAREHOUSE_PATH", "REXAI_IO_BASE")


@contextmanager
def located_by_data_root() -> Iterator[None]:
    """Every location derived from REXAI_DATA_ROOT inside the block; the variables are restored after it."""
    saved = {key: os.environ.pop(key, None) for key in LOCATION_ENV}
    try:
        yield
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value


def run_reality(seed: int, rounds: int, per_round: int, bootstrap: int, random_factor: int, small: bool,
                strategies: tuple[str, ...], tmp: Path) -> dict[str, list[dict]]:
    """Every strategy on its own fresh platform, in reality `seed`: the rows per round per strategy."""
    from rexai_assets.ops.checks_run import platform_environment, small_config_dir
    from rexai_assets.ops.pipeline import ensure_dagster_home

    config = small_config_dir(tmp / "config", SMALL) if small else None
    curves: dict[str, list[dict]] = {}
    for strategy in strategies:
        root = tmp / f"reality-{seed}" / strategy
        # Each strategy is a fresh deployment: its own data root, Dagster home and registry.
        with platform_environment(root / "data", root / "dagster_home", config), located_by_data_root():
            ensure_dagster_home()
            curves[strategy] = run_strategy(strategy, seed, rounds * (random_factor if strategy == "random" else 1),
                                            per_round, bootstrap).rows
    return curves


def run_benchmark(rounds: int, per_round: int, bootstrap: int, random_factor: int, seeds: tuple[int, ...],
                  small: bool, strategies: tuple[str, ...] = STRATEGIES, out_root: Path | None = None) -> dict[str, Any]:
    """Every reality in turn (one at a time: the machine's cores go to training); the curves, the goals per
    reality and the learning-curve PNG of their mean (written)."""
    from rexai_assets.atomic import write_bytes_atomic, write_text_atomic
    from rexai_assets.paths import layout
    from rexai_assets.planning.service import BENCHMARK_FOLDER, LEARNING_CURVE

    out = Path(out_root or layout().root) / BENCHMARK_FOLDER
    runs, scales, goal_rows, seconds = [], [], {}, {}
    with tempfile.TemporaryDirectory(prefix="rexai-planning-bench-") as tmp:
        for seed in seeds:
            started = time.perf_counter()
            runs.append(run_reality(seed, rounds, per_round, bootstrap, random_factor, small, strategies, Path(tmp)))
            seconds[seed] = round(time.perf_counter() - started, 1)
            scales.append({t: float(v) for t, v in make_lab_scale(seed).items()})
            if "planned" in runs[-1] and "random" in runs[-1]:
                goal_rows[seed] = goals(runs[-1], per_round, rounds, random_factor)
    result = {"settings": {"rounds": rounds, "per_round": per_round, "bootstrap": bootstrap, "seeds": list(seeds),
                           "random_factor": random_factor, "small": small},
              "target_scale": dict(zip(seeds, scales)), "seconds": seconds,
              "curves": dict(zip(seeds, runs)), "goals": goal_rows,
              "summary": {s: {k: v.tolist() for k, v in mean_curve(runs, s, scales).items()} for s in runs[0]},
              "comparison": paired_comparison(runs, scales)}
    write_bytes_atomic(out / LEARNING_CURVE, learning_curve_png(runs, scales))
    write_text_atomic(out / "results.json", json.dumps(result, indent=2))
    return result


def make_lab_scale(seed: int) -> pd.Series:
    """Standard deviation of each target in reality over the holdout (normalises MAE across targets)."""
    from rexai_assets.paths import SHIPPED_RAW_DIR
    from rexai_assets.raw.tables import load_raw_tables

    return make_lab(seed, load_raw_tables(SHIPPED_RAW_DIR)).holdout_truth.std()


def latency(n: int, calls: int = 3) -> int:
    """Wall time of `rexai plan-experiments --n N --json` in a subprocess, start-up included, `calls` times: the
    first call after a champion change scores the pool (unless its `experiment_plan` run did), the next ones
    take the scores from the plan cache, as in service."""
    from rexai_assets.planning.config import pool_settings
    from rexai_assets.serving.bench import rexai_command

    walls = []
    for _ in range(calls):
        started = time.perf_counter()
        done = subprocess.run([*rexai_command(), "plan-experiments", "--n", str(n), "--json"], capture_output=True,
                              text=True, env=os.environ.copy())
        walls.append(time.perf_counter() - started)
        if done.returncode != 0:
            print(f"`rexai plan-experiments` failed: {done.stderr.strip()}")
            return 1
    median = float(np.median(walls))
    print(f"`rexai plan-experiments --n {n} --json` over {pool_settings()[0]} candidates (subprocess, start-up "
          f"included), {calls} calls: {', '.join(f'{w:.2f}' for w in walls)} s wall; median {median:.2f} s "
          f"(target <= 5 s: {'OK' if median <= 5 else 'MISSED'})", flush=True)
    return 0


def print_summary(result: dict[str, Any]) -> None:
    """Per strategy and round, the mean (sd) over realities; then the goals per reality."""
    seeds = result["settings"]["seeds"]
    print(f"mean (sd) over {len(seeds)} realities {seeds}; wall seconds per reality {result['seconds']}")
    for strategy, c in result["summary"].items():
        cells = [f"{b:.0f}: MAE {m:.4f} ({ms:.4f}) regret {r:.3f} ({rs:.3f})"
                 for b, m, ms, r, rs in zip(c["budget"], c["mae"], c["mae_sd"], c["regret"], c["regret_sd"])]
        print(f"{strategy:<11} " + " | ".join(cells))
    for line in comparison_lines(result.get("comparison", [])):
        print(line)
    for seed, g in result["goals"].items():
        print(f"reality {seed}: goal 1: {g['planned_budget']} planned vs {g['random_budget']} random: MAE within 10 % "
              f"on {g['targets_within']} of 5 targets {g['mae_within_10pct']} (target >= 4); goal 2: mean regret "
              f"{g['planned_mean_regret']:.3f} planned vs {g['random_mean_regret_same_budget']:.3f} random at "
              f"{g['planned_budget']} (target: planned lower)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rexai_assets.planning.bench")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--per-round", type=int, default=50)
    parser.add_argument("--bootstrap", type=int, default=150,
                        help="random lab results every strategy starts from (enough for measurements to decide the gate)")
    parser.add_argument("--random-factor", type=int, default=3, help="random runs this many times the rounds")
    parser.add_argument("--seeds", default="1,2,3", help="the realities (loop/realities.py make_reality), comma-separated")
    parser.add_argument("--small", action="store_true", help="small sizes (gold pool, model profile, candidates)")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--latency", action="store_true", help="only time `rexai plan-experiments` on this data root")
    args = parser.parse_args(argv)
    if args.latency:
        return latency(args.per_round)
    result = run_benchmark(args.rounds, args.per_round, args.bootstrap, args.random_factor,
                           tuple(int(s) for s in args.seeds.split(",") if s), args.small,
                           tuple(s for s in args.strategies.split(",") if s))
    print_summary(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
