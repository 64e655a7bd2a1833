"""Throughput benchmark (a command, not a timed test): `python -m rexai_assets.serving.bench`.

Prints (1) in-process scoring throughput of one vectorised batch of `--candidates` recipes (target
>= 20,000 candidates/s) and the whole ranking time, and (2) the wall time of `rexai recommend` in a
subprocess, start-up included, over the configured candidate count (config/serving.yaml, 20,000 by
default; target <= 5 s), first with nothing cached and then in service (the pool already scored by
this champion, models/score_cache.py). It scores with the champion of the current data root, or a saved ensemble
(`--model-dir`), or the heuristic when neither exists (and says so).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path


def rexai_command() -> list[str]:
    """The installed `rexai` console script beside this interpreter (what a user runs), else `-m rexai_assets.cli`."""
    script = Path(sys.executable).with_name("rexai")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "rexai_assets.cli"]


def clear_serving_caches(cache: Path) -> None:
    """Forget the alias pointers, scorer cards and scored pools: the first call after a new champion."""
    for path in [*cache.glob("*@*.json"), *cache.glob("*/scorer_card.json"), *cache.glob("scores/*.npz")]:
        path.unlink(missing_ok=True)


def timed_recommend(target: str) -> tuple[float, str]:
    command = [*rexai_command(), "recommend", "--target", target, "--json"]
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    wall = time.perf_counter() - t0
    return wall, "ok" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"


def cli_wall_times(target: str, candidates: int, cache: Path, repeats: int) -> None:
    """`rexai recommend` in a subprocess: once with nothing cached (a new champion, or the first call after a
    registry change), then `repeats` times as in service (the pool scored and the alias pointer valid)."""
    clear_serving_caches(cache)
    cold, status = timed_recommend(target)
    print(f"`rexai recommend --target {target}` ({candidates} candidates, subprocess, start-up included), "
          f"first call after a champion change (nothing cached): {cold:.2f} s wall, {status}")
    warm = sorted(timed_recommend(target)[0] for _ in range(max(repeats, 1)))
    median = warm[len(warm) // 2]
    print(f"`rexai recommend --target {target}` in service (pool already scored by this champion): median "
          f"{median:.2f} s, max {warm[-1]:.2f} s wall over {len(warm)} calls (target <= 5 s: "
          f"{'OK' if warm[-1] <= 5 else 'MISSED'})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rexai_assets.serving.bench")
    parser.add_argument("--candidates", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--target", default=None, help="preset (default: the first in raw/targets_presets.json)")
    parser.add_argument("--model-dir", default=None, help="a saved TrainedEnsemble directory instead of the champion")
    parser.add_argument("--skip-cli", action="store_true", help="only the in-process measurement")
    args = parser.parse_args(argv)

    from rexai_assets.gold.features import feature_context
    from rexai_assets.paths import layout
    from rexai_assets.raw.tables import load_raw_tables
    from rexai_assets.serving import recommend as rc
    from rexai_assets.models.scorer import ensemble_scorer, heuristic_scorer, load_model

    data = layout().ensure()
    tables = load_raw_tables(data.raw)
    target = args.target or str(tables.presets["name"].iloc[0])
    if args.model_dir:
        from rexai_assets.models.ensemble import TrainedEnsemble

        scorer = ensemble_scorer(TrainedEnsemble.load(Path(args.model_dir)), f"dir:{args.model_dir}")
    else:  # the champion itself, without the score cache: this measures scoring, not a cache read
        found = load_model()
        scorer = ensemble_scorer(*found) if found else heuristic_scorer()
    origin = f"model v{scorer.version}" if scorer.source == "model" else "heuristic (no champion in this data root)"
    print(f"data root {data.root}; scorer: {origin}")
    cfg = rc.serving_settings().recommendations.model_copy(update={"candidates": args.candidates})
    ctx = feature_context(tables)
    started = time.perf_counter()
    cands = rc.sample_candidates(ctx, tables.inventory, cfg.candidates, cfg.seed, cfg.batch_kg)
    print(f"sampled {len(cands)} mass-feasible candidates in {time.perf_counter() - started:.3f} s")
    best = float("inf")
    for _ in range(max(args.repeats, 1)):
        t0 = time.perf_counter()
        scorer.predict(cands.X)
        best = min(best, time.perf_counter() - t0)
    print(f"in-process scoring: {len(cands)} candidates in {best:.3f} s = {len(cands) / best:,.0f} candidates/s "
          f"(best of {args.repeats}; target >= 20,000/s: {'OK' if len(cands) / best >= 20000 else 'MISSED'})")
    t0 = time.perf_counter()
    rc.rank_candidates(ctx, cands, scorer, rc.preset_from_frame(tables.presets, target), cfg)
    print(f"in-process ranking (score + caps + Pareto + top list + drivers): {time.perf_counter() - t0:.3f} s")
    if not args.skip_cli:
        cli_wall_times(target, rc.serving_settings().recommendations.candidates, data.models / "cache", args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
