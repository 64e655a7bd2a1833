"""Gold-layer throughput benchmark: sample N candidate recipes, build their features and simulated labels.

    python -m rexai_assets.gold.bench --rows 1000000 [--seed 1] [--json]

Everything is vectorised numpy (no Python loop per row); recipe ids (a sha256 per recipe) are not
part of the timed path, as the pool asset only hashes its configured N distinct recipes.
Prints rows/s per stage and overall, and the process's peak resident memory (getrusage).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def run(rows: int, seed: int = 1, raw_dir: Path | None = None) -> dict:
    from rexai_assets.gold.candidates import sample_arrays
    from rexai_assets.gold.contract import gold_settings
    from rexai_assets.gold.features import feature_context, features_from_arrays
    from rexai_assets.gold.simulator import simulate
    from rexai_assets.paths import SHIPPED_RAW_DIR, layout
    from rexai_assets.raw.tables import load_raw_tables

    raw_dir = raw_dir or (layout().raw if (layout().raw / "nasa_waste_inventory.csv").exists() else SHIPPED_RAW_DIR)
    tables = load_raw_tables(raw_dir)
    cfg = gold_settings()
    ctx = feature_context(tables)
    base_rss = peak_rss_mb()
    timings: dict[str, float] = {}
    start = time.perf_counter()
    arrays = sample_arrays(ctx, rows, np.random.default_rng(seed), cfg)
    timings["sample"] = time.perf_counter() - start
    t = time.perf_counter()
    X = features_from_arrays(ctx, *arrays)
    timings["features"] = time.perf_counter() - t
    t = time.perf_counter()
    labels = simulate(dict(zip(ctx.names, X.T)), seed=cfg.simulator.seed, noise=cfg.simulator.noise)
    timings["labels"] = time.perf_counter() - t
    total = time.perf_counter() - start
    assert X.shape == (rows, len(ctx.names)) and len(labels) == rows
    return {
        "rows": rows, "features": len(ctx.names), "seconds": round(total, 3),
        "rows_per_s": round(rows / total), "stage_seconds": {k: round(v, 3) for k, v in timings.items()},
        "peak_rss_mb": round(peak_rss_mb(), 1), "rss_before_mb": round(base_rss, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rexai_assets.gold.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="candidate rows to build (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.rows <= 0:
        print("--rows must be positive", file=sys.stderr)
        return 2
    result = run(args.rows, args.seed)
    if args.json:
        print(json.dumps(result))
    else:
        stages = ", ".join(f"{k} {v:.2f}s" for k, v in result["stage_seconds"].items())
        print(f"gold bench: {result['rows']:,} rows x {result['features']} features + 5 labels in "
              f"{result['seconds']:.2f}s = {result['rows_per_s']:,} rows/s ({stages}); "
              f"peak RSS {result['peak_rss_mb']:.0f} MB (before {result['rss_before_mb']:.0f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
