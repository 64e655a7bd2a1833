"""What the `benchmarks` and `feature_ablations` assets write: tables, plots and UI metadata.

Files under `<data root>/benchmarks/`: `benchmarks.csv|parquet` (every metric row), `mae_<label_set>.png`,
`ablations.csv|parquet`, `ablations.png`, and, when the champion changed since the last benchmark run
(`champion_state.json`), `champion_v<old>_to_v<new>.png`: the previous champion (loaded from the
registry by version) and the new one scored on the same rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from rexai_assets.plots import markdown_image
from rexai_assets.evaluation import benchmark_metrics as bm
from rexai_assets.evaluation.config import benchmark_settings
from rexai_assets.models.predictive import preset_from_frame

STATE_FILE = "champion_state.json"


@dataclass
class BenchmarkOutcome:
    metrics: pd.DataFrame
    metadata: dict
    files: dict[str, Path]


def _metadata_value(kind: str, value: Any) -> Any:
    import dagster as dg

    return getattr(dg.MetadataValue, kind)(value)


def summary_markdown(metrics: pd.DataFrame) -> str:
    """MAE per model on each label set's `all` slice, one row per target (targets are never pooled)."""
    data = metrics[metrics["slice"] == "all"]
    if data.empty:
        return "_no labelled rows_"
    pivot = data.pivot_table(index=["label_set", "target"], columns="model", values="mae", aggfunc="first")
    cover = data.pivot_table(index=["label_set", "target"], columns="model", values="coverage", aggfunc="first")
    pivot.columns = [f"MAE {c}" for c in pivot.columns]
    cover.columns = [f"coverage {c}" for c in cover.columns]
    return pivot.join(cover).reset_index().to_markdown(index=False, floatfmt=".4g")


def benchmark_outputs(gold: Any, tables: Any, scorers: Mapping[str, Any], folder: Path, mlflow: Any = None) -> BenchmarkOutcome:
    from rexai_assets.atomic import write_bytes_atomic, write_text_atomic
    from rexai_assets.gold.features import feature_context

    cfg = benchmark_settings()
    ctx = feature_context(tables)
    presets = [preset_from_frame(tables.presets, str(n)) for n in tables.presets["name"]]
    result = bm.run_benchmarks(gold, ctx, presets, scorers, cfg)
    folder = Path(folder)
    files = {f"benchmarks.{k}": v for k, v in bm.write_tables(result.metrics, folder, "benchmarks").items()}
    metadata: dict[str, Any] = {
        "dagster/row_count": len(result.metrics),
        "models": _metadata_value("json", result.models),
        "rows_per_label_set": _metadata_value("json", result.rows),
        "summary": _metadata_value("md", summary_markdown(result.metrics)),
    }
    for label_set in sorted(result.metrics["label_set"].unique()):
        png = bm.mae_plot(result.metrics, label_set, f"MAE per slice on {label_set} rows")
        if png:
            files[f"mae_{label_set}.png"] = write_bytes_atomic(folder / f"mae_{label_set}.png", png)
            metadata[f"plot_{label_set}"] = _metadata_value("md", markdown_image(png, f"MAE {label_set}"))

    champion = scorers.get("champion")
    state_path = folder / STATE_FILE
    previous = json.loads(state_path.read_text()).get("champion_version") if state_path.exists() else None
    current = champion.version if champion is not None else None
    if previous and current and previous != current and mlflow is not None:
        before = _previous_champion_metrics(gold, ctx, presets, cfg, mlflow, previous)
        if before is not None:
            after = result.metrics[result.metrics["model"] == "champion"]
            png = bm.before_after_plot(before, after, previous, current)
            name = f"champion_v{previous}_to_v{current}.png"
            files[name] = write_bytes_atomic(folder / name, png)
            metadata["champion_change"] = _metadata_value("md", f"v{previous} -> v{current}\n\n" + markdown_image(png, "before/after"))
    write_text_atomic(state_path, json.dumps({"champion_version": current}, sort_keys=True) + "\n")
    metadata["files"] = _metadata_value("json", {k: str(v) for k, v in files.items()})
    return BenchmarkOutcome(result.metrics, metadata, files)


def _previous_champion_metrics(gold: Any, ctx: Any, presets: list, cfg: Any, mlflow: Any, version: str) -> pd.DataFrame | None:
    from rexai_assets.models.registry import FeatureContractMismatch, load_model_version
    from rexai_assets.models.scorer import ensemble_scorer

    try:
        model, _ = load_model_version(mlflow, version)
    except FeatureContractMismatch:
        return None  # trained on another feature contract: it cannot score these rows
    result = bm.run_benchmarks(gold, ctx, presets, {"previous_champion": ensemble_scorer(model, version)}, cfg)
    return result.metrics


def ablation_outputs(gold: Any, folder: Path) -> tuple[pd.DataFrame, dict]:
    from rexai_assets.atomic import write_bytes_atomic

    frame = bm.run_ablations(gold, benchmark_settings())
    folder = Path(folder)
    files = {f"ablations.{k}": v for k, v in bm.write_tables(frame, folder, "ablations").items()}
    png = bm.ablation_plot(frame)
    files["ablations.png"] = write_bytes_atomic(folder / "ablations.png", png)
    table = frame[frame["group"] != "none"].pivot(index="group", columns="target", values="relative_delta")
    metadata = {
        "dagster/row_count": len(frame),
        "relative_mae_change": _metadata_value("md", (100 * table).round(2).to_markdown() + "\n\n(% of the full model's validation MAE, per target)"),
        "plot": _metadata_value("md", markdown_image(png, "ablations")),
        "files": _metadata_value("json", {k: str(v) for k, v in files.items()}),
    }
    return frame, metadata
