"""The review page of a promotion proposal: what a person needs for the second vote, on one page.

Challenger vs champion predicted-vs-measured on the trusted measured golden rows (a scatter and the
error distribution, per target), each gate criterion with its numbers, the lineage chain from the raw
files' sha256 to the bundle, and how to decide (the `review_promotion` launchpad link and the
commands). It is built from stored JSON only (the proposal and its evaluation report under
`models/`), so it can be rebuilt at any time without the models. matplotlib is imported when drawing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence
from urllib.parse import quote

import numpy as np

from rexai_assets.plots import markdown_image, png_bytes

REVIEW_JOB = "review_promotion"
WEBSERVER_ENV, DEFAULT_WEBSERVER = "DAGSTER_WEBSERVER_URL", "http://127.0.0.1:3000"
LOCATION = "rexai_assets.definitions"  # the code location of workspace.yaml
MODELS = ("challenger", "champion")
COLOURS = {"challenger": "#d62728", "champion": "#1f77b4"}


@dataclass
class ReviewPage:
    proposal_id: str
    comparison: list[dict]  # per target: n, MAE and bias of each model on the measured golden rows
    criteria: list[dict]
    lineage: list[tuple[str, str]]  # (stage, hash or note), raw files first, the bundle last
    link: str
    commands: list[str]
    plots: dict[str, bytes] = field(default_factory=dict)  # "scatter", "errors" (PNG), when there are measured rows

    def markdown(self) -> str:
        images = [markdown_image(png, name) for name, png in self.plots.items()]
        parts = [f"### {self.proposal_id}: challenger vs champion on the measured golden rows",
                 markdown_rows(COMPARISON_HEADER, comparison_rows(self.comparison)) if self.comparison
                 else "no trusted measured golden rows: the simulated slice decided (see the criteria)",
                 *images, "### Criteria", markdown_rows(("criterion", "result", "numbers"), criteria_rows(self.criteria)),
                 "### Lineage", markdown_rows(("stage", "hash"), self.lineage),
                 "### Decide", f"[review_promotion launchpad]({self.link})", *(f"`{c}`" for c in self.commands)]
        return "\n\n".join(parts)

    def text(self) -> str:
        parts = ["challenger vs champion on the measured golden rows:",
                 text_rows(COMPARISON_HEADER, comparison_rows(self.comparison)) if self.comparison else "  none",
                 "criteria:", text_rows(("criterion", "result", "numbers"), criteria_rows(self.criteria)),
                 "lineage:", text_rows(("stage", "hash"), self.lineage),
                 f"decide: {self.link}", *(f"  {c}" for c in self.commands)]
        return "\n".join(parts)


COMPARISON_HEADER = ("target", "n", "challenger MAE", "champion MAE", "challenger bias", "champion bias")


def compare(measured_golden: Mapping[str, Mapping[str, Sequence]]) -> list[dict]:
    """Per target: rows, and each model's MAE and mean signed error (predicted - measured)."""
    rows = []
    for target, stored in measured_golden.items():
        y = np.asarray(stored["measured"], dtype=float)
        row: dict[str, Any] = {"target": target, "n": int(len(y))}
        for model in MODELS:
            if model in stored:
                err = np.asarray(stored[model], dtype=float) - y
                row[f"{model}_mae"], row[f"{model}_bias"] = float(np.nanmean(np.abs(err))), float(np.nanmean(err))
        rows.append(row)
    return rows


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


def comparison_rows(comparison: Sequence[Mapping[str, Any]]) -> list[tuple]:
    return [(r["target"], r["n"], _num(r.get("challenger_mae")), _num(r.get("champion_mae")),
             _num(r.get("challenger_bias")), _num(r.get("champion_bias"))) for r in comparison]


def criteria_rows(criteria: Sequence[Mapping[str, Any]]) -> list[tuple]:
    return [(c["name"], "PASS" if c["passed"] else "FAIL", c["detail"]) for c in criteria]


def markdown_rows(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(v).replace("|", "/") for v in row) + " |" for row in rows])


def text_rows(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    table = [tuple(map(str, header))] + [tuple(map(str, row)) for row in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    return "\n".join("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths)) + "  " + row[-1] for row in table)


def lineage_chain(lineage: Mapping[str, Any], challenger: str | None, bundle: tuple[str, str] | None) -> list[tuple[str, str]]:
    """Raw file sha256 -> dataset, config and feature-order hashes -> the challenger's model hash -> its bundle."""
    chain = [(f"raw file {name}", sha) for name, sha in sorted((lineage.get("raw_files") or {}).items())]
    chain += [(key, str(lineage.get(key) or "-")) for key in ("dataset_hash", "config_hash", "feature_order_hash")]
    chain.append((f"model_hash (v{challenger})", str(lineage.get("challenger_model_hash") or "-")))
    chain.append(("bundle", f"{bundle[0]} sha256 {bundle[1]}" if bundle else
                  f"not sealed: model_bundle seals v{challenger} once it is champion"))
    return chain


def review_link(proposal_id: str, base: str | None = None) -> str:
    """The `review_promotion` launchpad of the Dagster UI, its config filled in but the reviewer."""
    base = (base or os.environ.get(WEBSERVER_ENV) or DEFAULT_WEBSERVER).rstrip("/")
    config = {"ops": {"apply_review": {"config": {"proposal_id": proposal_id, "decision": "approve",
                                                  "reviewer": "", "notes": ""}}}}
    return (f"{base}/locations/__repository__@{LOCATION}/jobs/{REVIEW_JOB}/playground/setup"
            f"?config={quote(json.dumps(config))}")  # JSON is YAML: the launchpad reads it as run config


def review_commands(proposal_id: str, request_tests: bool = True) -> list[str]:
    """The commands of the second vote (`request_tests`: the shared model's third answer)."""
    return [f"rexai approve {proposal_id} --reviewer R", f"rexai approve {proposal_id} --reviewer R --reject",
            *([f"rexai approve {proposal_id} --reviewer R --request-tests N"] if request_tests else [])]


def review_plots(measured_golden: Mapping[str, Mapping[str, Sequence]]) -> dict[str, bytes]:
    """Predicted vs measured (one panel per target, the diagonal is perfect) and the error distributions."""
    if not measured_golden:
        return {}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = list(measured_golden)
    plots = {}
    for kind in ("scatter", "errors"):
        fig, axes = plt.subplots(1, len(targets), figsize=(3.2 * len(targets), 3.2), squeeze=False,
                                 constrained_layout=True)
        for ax, target in zip(axes[0], targets):
            draw_panel(ax, kind, target, measured_golden[target])
        axes[0][0].legend(fontsize=7)
        plots[kind] = png_bytes(fig, dpi=70)  # 5 panels fit the UI dialog (1,120 px)
    return plots


def draw_panel(ax: Any, kind: str, target: str, stored: Mapping[str, Sequence]) -> None:
    y = np.asarray(stored["measured"], dtype=float)
    for model in (m for m in MODELS if m in stored):
        pred = np.asarray(stored[model], dtype=float)
        if kind == "scatter":
            ax.scatter(y, pred, s=10, alpha=0.7, c=COLOURS[model], label=model)
        else:
            ax.hist(pred - y, bins=20, alpha=0.5, color=COLOURS[model], label=model)
    if kind == "scatter":
        lo, hi = float(np.nanmin(y)), float(np.nanmax(y))
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel(f"measured {target}")
        ax.set_ylabel("predicted")
    else:
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xlabel(f"{target} error (predicted - measured)")
    ax.set_title(f"{target} (n={len(y)})", fontsize=9)


def build_review_page(proposal: Any, measured_golden: Mapping[str, Any], bundle: tuple[str, str] | None = None,
                      plots: bool = True) -> ReviewPage:
    """The page of one proposal from what is stored: the proposal and its evaluation's measured golden rows."""
    return ReviewPage(
        proposal_id=proposal.proposal_id, comparison=compare(measured_golden), criteria=list(proposal.criteria),
        lineage=lineage_chain(proposal.lineage, proposal.challenger_version, bundle),
        link=review_link(proposal.proposal_id), commands=review_commands(proposal.proposal_id),
        plots=review_plots(measured_golden) if plots else {})


def stored_measured_golden(evaluation_file: Any) -> dict:
    """The measured golden predictions of a stored evaluation report ({} for a report without them)."""
    from pathlib import Path

    path = Path(evaluation_file)
    return json.loads(path.read_text()).get("measured_golden") or {} if path.exists() else {}
