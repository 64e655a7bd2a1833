"""The `learning_benchmark` asset: the last run of `python -m rexai_assets.loop.learning_bench`, in the UI.

It reads `<data root>/benchmarks/learning/results.json`, `summary.md` and `learning_curve.png` (written by
the benchmark) and shows the learning curve, the aggregate figures and the goal verdicts; it runs nothing
itself, so it imports nothing of the loop layer above it.
Importing this module does no I/O and imports neither pandas nor matplotlib.
"""

from pathlib import Path
from typing import Any

import dagster as dg

from rexai_assets.resources import RexaiStorage

GROUP = "evaluation"
REFRESH_COMMAND = "python -m rexai_assets.loop.learning_bench"
LEARNING_FOLDER = "learning"


def learning_metadata(folder: Path) -> dict[str, Any]:
    """Metadata of the last benchmark in `folder`, or a note saying it was not run yet."""
    results_file, png_file = Path(folder) / "results.json", Path(folder) / "learning_curve.png"
    refresh = dg.MetadataValue.md(f"`{REFRESH_COMMAND} [--realities 5] [--steps 0,50,100,200,400,600] [--small]`")
    if not results_file.is_file():
        return {"status": f"not run yet: {REFRESH_COMMAND}", "refresh": refresh}
    import json

    results = json.loads(results_file.read_text(encoding="utf-8"))
    summary = Path(folder) / "summary.md"
    verdicts = results.get("verdicts") or {}
    settings = results.get("settings") or {}
    metadata: dict[str, Any] = {
        "status": f"{sum(bool(v) for v in verdicts.values())}/{len(verdicts)} goals met over "
                  f"{len(results.get('realities') or [])} realities, steps {settings.get('steps')}",
        "figures": dg.MetadataValue.md(summary.read_text(encoding="utf-8") if summary.is_file() else "(no summary.md)"),
        "verdicts": dg.MetadataValue.json(verdicts),
        "settings": dg.MetadataValue.json(settings),
        "wall_seconds": float(results.get("wall_seconds") or 0.0),
        "results": dg.MetadataValue.path(str(results_file)),
        "refresh": refresh,
    }
    if png_file.is_file():
        from rexai_assets.plots import markdown_image

        metadata["learning_curve"] = dg.MetadataValue.md(markdown_image(png_file.read_bytes(), "learning curve"))
    return metadata


@dg.asset(group_name=GROUP, kinds={"matplotlib"})
def learning_benchmark(context: dg.AssetExecutionContext, storage: RexaiStorage) -> dg.MaterializeResult:
    """Learning curve of the last learning benchmark: holdout MAE vs the bootstrap and coverage as lab rows arrive."""
    metadata = learning_metadata(storage.layout.benchmarks / LEARNING_FOLDER)
    context.log.info(str(metadata["status"]))
    return dg.MaterializeResult(metadata=metadata)

