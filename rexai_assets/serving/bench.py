"""Throughput benchmark (a command, not a timed test): `python -m rexai_assets.serving.bench`.

Prints (1) in-process scoring throughput of one vectorised batch of `--candidates` recipes (target
>= 20,000 candidates/s) and the whole ranking time, and (2) the wall time of `rexai recommend` in a
subprocess, start-up included, over the configured candidate count (config/serving.yaml, 20,000 by
default; target <= 5 s). It scores with the champion of the current data root, or a saved ensemble
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
    from rexai_assets.models.scorer import ensemble_scorer, load_scorer

    data = layout().ensure()
    tables = load_raw_tables(data.raw)
    target = args.target or str(tables.presets["name"].iloc[0])
    if args.model_dir:
        from rexai_assets.models.ensemble import TrainedEnsemble

        scorer = ensemble_scorer(TrainedEnsemble.load(Path(args.model_dir)), f"dir:{args.model_dir}")
    else:
        scorer = load_scorer()
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
        command = [*rexai_command(), "recommend", "--target", target, "--json"]
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
        wall = time.perf_counter() - t0
        status = "ok" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"
        print(f"`rexai recommend --target {target}` ({rc.serving_settings().recommendations.candidates} candidates, "
              f"subprocess, start-up included): {wall:.2f} s wall, {status} (target <= 5 s: {'OK' if wall <= 5 and done.returncode == 0 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
