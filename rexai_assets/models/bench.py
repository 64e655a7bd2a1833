"""Training benchmark: `python -m rexai_assets.models.bench [--synthetic] [--rows N] [--profile NAME]`.

Trains every model on the default gold dataset (built from the shipped raw tables and config, the
same function the `gold_dataset` asset calls, with no observations), or on a simulated gold set of
`--rows` rows when the gold layer cannot be built, and prints per-model wall seconds, CPU seconds
(all threads; a load-independent view on a shared machine) and the process's peak resident memory
after each step. Budget (DESIGN / issue D): <= 60 s and <= 2 GB on 2 cores.
Not a test: timings depend on the machine and on whatever else it runs.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from typing import Any, Callable

BUDGET_SECONDS = 60.0
BUDGET_MB = 2048.0


def peak_mb() -> float:
    # ru_maxrss is in KiB on Linux: the peak over the whole process so far.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def default_gold() -> Any:
    """The gold dataset from the shipped raw tables and the current config (no observations)."""
    from rexai_assets.gold import candidates, contract, dataset
    from rexai_assets.paths import SHIPPED_RAW_DIR
    from rexai_assets.raw.tables import load_raw_tables

    tables = load_raw_tables(SHIPPED_RAW_DIR)
    pool = candidates.recipe_candidates_pool(tables, contract.gold_settings())
    return dataset.build_gold_dataset(tables, pool)


def run(synthetic: bool = False, rows: int = 20000, profile: str | None = None,
        out: Callable[[str], None] = print, threads: int | None = None) -> dict[str, float]:
    from rexai_assets.models import ensemble as E
    from rexai_assets.models.config import models_config

    cfg = models_config(profile)
    if threads is not None:
        cfg = cfg.model_copy(update={"threads": threads})
    started = time.perf_counter()
    heuristic = None
    if not synthetic:
        try:
            gold = default_gold()
            source = "default gold"
        except (ImportError, AttributeError) as exc:
            out(f"gold layer unavailable ({exc}); using a simulated gold set")
            synthetic = True
    if synthetic:
        from rexai_assets.models.synthetic import make_synthetic_gold, synthetic_heuristic

        gold = make_synthetic_gold(rows, n_features=36, seed=cfg.seed)
        heuristic = synthetic_heuristic
        source = "simulated gold"
    split_rows = {s: len(gold.split_frame(s)) for s in ("train", "val", "test", "golden")}
    out(f"{source}: {len(gold.frame)} rows {split_rows}, {len(gold.feature_names)} features "
        f"(built in {time.perf_counter() - started:.1f} s); profile {cfg.profile}, threads {cfg.threads}")
    seconds: dict[str, float] = {}
    members: dict[str, Any] = {}
    # No fit cache: every member is fitted, which is what this benchmark times.
    steps = [("forest", lambda g, c: E.train_forest(g, c)[0]), ("boosting", lambda g, c: E.train_boosting(g, c)[0]),
             ("tab_transformer", lambda g, c: E.train_tab_transformer(g, c)[0]), ("autoencoder", E.train_autoencoder)]
    cpu: dict[str, float] = {}
    for name, fit in steps:
        t0, c0 = time.perf_counter(), time.process_time()
        members[name] = fit(gold, cfg)
        seconds[name], cpu[name] = time.perf_counter() - t0, time.process_time() - c0
        out(f"  {name:16s} {seconds[name]:7.2f} s  (cpu {cpu[name]:6.2f} s)  peak RSS {peak_mb():7.0f} MB")
    t0, c0 = time.perf_counter(), time.process_time()
    model = E.assemble_ensemble(gold, members["forest"], members["boosting"], members["tab_transformer"],
                                members["autoencoder"], cfg, heuristic)
    seconds["ensemble"], cpu["ensemble"] = time.perf_counter() - t0, time.process_time() - c0
    out(f"  {'ensemble':16s} {seconds['ensemble']:7.2f} s  (cpu {cpu['ensemble']:6.2f} s)  peak RSS {peak_mb():7.0f} MB"
        "  (selection, calibration, evaluation)")
    total = sum(seconds.values())
    seconds["total"] = total
    seconds["peak_mb"] = peak_mb()
    verdict = "within" if total <= BUDGET_SECONDS and seconds["peak_mb"] <= BUDGET_MB else "OVER"
    out(f"  {'total':16s} {total:7.2f} s  (cpu {sum(cpu.values()):6.2f} s)  peak RSS {seconds['peak_mb']:7.0f} MB  -> {verdict} budget "
        f"({BUDGET_SECONDS:.0f} s, {BUDGET_MB:.0f} MB)")
    meta = model.metadata
    for target in model.target_names:
        versus = meta["golden_vs_heuristic"].get(target, {})
        out(f"  {target:11s} weights {meta['selection'][target]['weights']}  val coverage "
            f"{meta['coverage']['val'][target]:.3f}  golden MAE {versus.get('model_mae', float('nan')):.4g} "
            f"(heuristic {versus.get('heuristic_mae', float('nan')):.4g})")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rexai_assets.models.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", action="store_true", help="use a simulated gold set instead of the default gold")
    parser.add_argument("--rows", type=int, default=20000, help="rows of the simulated gold set")
    parser.add_argument("--profile", default=None, help="models.yaml profile (default: the file's `profile`)")
    parser.add_argument("--threads", type=int, default=None, help="override models.yaml `threads`")
    args = parser.parse_args(argv)
    run(args.synthetic, args.rows, args.profile, threads=args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
