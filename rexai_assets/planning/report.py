"""What a plan shows: a markdown table for people, metadata for the UI, and the lab sheet."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from rexai_assets.planning.store import Plan

# The experiment record of DESIGN.md, in order; the measurement columns are left for the lab.
SHEET_COLUMNS = ("experiment_id", "recipe_id", "process_id", "recipe_spec", "environment", "operator_id",
                 "started_at", "finished_at", "raw_measurements", "verdict", "next_actions")


def plan_lines(plan: Plan) -> list[str]:
    """One line per experiment, best first (the console output of `rexai plan-experiments`)."""
    out = [f"plan {plan.plan_id}: {len(plan.experiments)} experiments, model v{plan.model_version}"]
    for rank, e in enumerate(plan.experiments, start=1):
        items = " + ".join(f"{i['waste_id']} {i['mass_frac']:.0%}" for i in e.recipe["items"])
        cells = "  ".join(f"{t} {p['value']:.3g} [{p['lo']:.3g}, {p['hi']:.3g}]" for t, p in e.prediction.items())
        out.append(f"{rank:>3}. {e.recipe_id}  {e.purpose:<18} acquisition {e.acquisition:.4g}  {items} · "
                   f"{e.recipe['process_id']} · regolith {e.recipe['regolith_frac']:.0%}")
        out.append(f"     {cells}")
    return out


def markdown_table(plan: Plan) -> str:
    lines = ["| # | recipe | purpose | acquisition | rigidity | tightness | energy kWh | water L | crew min |",
             "|---|---|---|---|---|---|---|---|---|"]
    for rank, e in enumerate(plan.experiments, start=1):
        cell = lambda t: f"{e.prediction[t]['value']:.3g} [{e.prediction[t]['lo']:.3g}, {e.prediction[t]['hi']:.3g}]"  # noqa: E731
        lines.append(f"| {rank} | `{e.recipe_id}` | {e.purpose} | {e.acquisition:.4g} | "
                     + " | ".join(cell(t) for t in e.prediction) + " |")
    return "\n".join(lines) + "\n"


def plan_metadata(plan: Plan, root: Path) -> dict[str, Any]:
    """The asset's metadata: ids, counts per purpose, the table and, when benchmarked, the learning curve and
    the ceiling of experiment choice."""
    import dagster as dg

    from rexai_assets.planning.service import CEILING_PLOT, LEARNING_CURVE, benchmark_plot
    from rexai_assets.plots import markdown_image

    meta: dict[str, Any] = {
        "plan_id": plan.plan_id, "model_version": str(plan.model_version), "experiments": len(plan.experiments),
        "purposes": dg.MetadataValue.json(dict(Counter(e.purpose for e in plan.experiments))),
        "planning_config_sha256": plan.config_sha256, "plan": dg.MetadataValue.md(markdown_table(plan))}
    for key, name, alt in (("learning_curve", LEARNING_CURVE, "planned vs random vs uncertainty-only"),
                           ("ceiling", CEILING_PLOT, "how far choosing experiments can go: random vs explore vs oracles")):
        png = benchmark_plot(root, name)
        if png is not None:
            meta[key] = dg.MetadataValue.md(markdown_image(png, alt))
    return meta


def lab_sheet(plan: Plan) -> list[dict[str, str]]:
    """Experiment records for the lab (DESIGN.md), identity filled in, measurements to be filled in."""
    rows = []
    for rank, e in enumerate(plan.experiments, start=1):
        spec = {k: v for k, v in e.recipe.items() if k != "recipe_id"}
        rows.append({**{c: "" for c in SHEET_COLUMNS}, "experiment_id": f"{plan.plan_id}-{rank:03d}",
                     "recipe_id": e.recipe_id, "process_id": e.recipe["process_id"],
                     "recipe_spec": json.dumps({"recipe_id": e.recipe_id, **spec}, sort_keys=True)})
    return rows
