"""The learning history: per champion period, its prospective error and coverage; per retrain, the verdict.

Prospective: a version is judged on the ledger rows observed while it served (it was trained before it
was promoted, so it never saw them), of trusted label sources (config/gold.yaml `trusted_sources`) and
verdicts with a weight above 0. `history_document` is exactly what `rexai history --json` prints:
`{"versions": [{"version", "from", "to", "targets": {target: {"mae", "coverage", "n"}}}], "retrains": [...]}`.
Plain functions (no Dagster); the plots import matplotlib when called.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import numpy as np
import pandas as pd

from rexai_assets.contract import TARGETS
from rexai_assets.plots import png_bytes


def _iso(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


def scored_rows(ledger: pd.DataFrame, trusted_sources: tuple[str, ...],
                verdict_weights: Mapping[str, float]) -> pd.DataFrame:
    """Ledger rows that count: trusted label sources, verdict weight > 0."""
    if ledger.empty:
        return ledger
    weight = ledger["verdict"].map(lambda v: float(verdict_weights.get(v, 1.0)) if isinstance(v, str) else 1.0)
    return ledger[ledger["label_source"].isin(list(trusted_sources)) & (weight > 0)]


def period_figures(rows: pd.DataFrame, version: str, start: Any, end: Any) -> dict[str, dict[str, Any]]:
    """{target: {"mae", "coverage", "n"}} on the rows `version` predicted, observed in [start, end)."""
    observed = pd.to_datetime(rows["observed_at"])
    inside = (rows["model_version"].astype(str) == str(version)) & (observed >= pd.Timestamp(start))
    if end is not None and not pd.isna(end):
        inside &= observed < pd.Timestamp(end)
    mine = rows[inside]
    out = {}
    for target in TARGETS:
        cells = mine[mine["target"] == target]
        n = int(len(cells))
        out[target] = {"mae": float(np.mean(np.abs(cells["error"].astype(float)))) if n else None,
                       "coverage": float(cells["inside_interval"].astype(bool).mean()) if n else None, "n": n}
    return out


def retrain_entries(proposals: pd.DataFrame) -> list[dict[str, Any]]:
    """Per retrain (a row of registry.promotion_proposals), oldest first: trigger, the gate's verdict and
    the first failed criterion."""
    out = []
    for p in proposals.sort_values(["created_at", "proposal_id"], kind="stable").to_dict("records"):
        criteria = json.loads(p["criteria"]) if isinstance(p["criteria"], str) and p["criteria"] else []
        failed = [c.get("detail") for c in criteria if not c.get("passed")]
        out.append({"proposal_id": p["proposal_id"], "at": _iso(p["created_at"]), "trigger": _text(p["trigger"]),
                    "challenger_version": _text(p["challenger_version"]),
                    "champion_version": _text(p["champion_version"]), "recommendation": p["recommendation"],
                    "status": p["status"], "failed": failed[0] if failed else None, "failed_count": len(failed)})
    return out


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def history_document(ledger: pd.DataFrame, periods: pd.DataFrame, proposals: pd.DataFrame,
                     trusted_sources: tuple[str, ...], verdict_weights: Mapping[str, float]) -> dict[str, Any]:
    """The `rexai history --json` document."""
    rows = scored_rows(ledger, trusted_sources, verdict_weights)
    versions = [{"version": str(p.version), "from": _iso(p["from"]), "to": _iso(p["to"]),
                 "targets": period_figures(rows, p.version, p["from"], p["to"])}
                for _, p in periods.iterrows()]
    return {"versions": versions, "retrains": retrain_entries(proposals)}


def history_text(document: Mapping[str, Any]) -> str:
    """The document for people: one block per champion period, one line per retrain."""
    lines = []
    for v in document["versions"]:
        lines.append(f"v{v['version']}: champion from {v['from']} to {v['to'] or 'now'}")
        for target, f in v["targets"].items():
            figures = (f"mae {f['mae']:.4g}, coverage {f['coverage']:.0%}" if f["n"] else "no measurement yet")
            lines.append(f"    {target:<10} {figures} (n={f['n']})")
    if not document["versions"]:
        lines.append("no champion yet")
    for r in document["retrains"]:
        tail = f": {r['failed']}" + (f" (+{r['failed_count'] - 1} more)" if r["failed_count"] > 1 else "") if r["failed"] else ""
        lines.append(f"retrain {r['at']} trigger {r['trigger'] or '-'}: challenger v{r['challenger_version']} "
                     f"{r['recommendation']} ({r['status']}){tail}")
    return "\n".join(lines)


def to_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False, default=str)


# ---------------------------------------------------------------------------------------------
# Plots (PNG bytes)


def _png(fig: Any) -> bytes:
    return png_bytes(fig, dpi=70)


def _figure(ncols: int, width: float) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width, 3.2), constrained_layout=True, squeeze=False)
    return fig, axes[0]


def error_over_time_png(document: Mapping[str, Any]) -> bytes:
    """Prospective MAE per target, one point per champion period (at its start), labelled with the version."""
    fig, axes = _figure(len(TARGETS), 3.0 * len(TARGETS))
    for ax, target in zip(axes, TARGETS):
        points = [(pd.Timestamp(v["from"]), v["targets"][target]["mae"], v["version"]) for v in document["versions"]
                  if v["targets"][target]["n"]]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o")
            for when, mae, version in points:
                ax.annotate(f"v{version}", (when, mae), fontsize=7)
        ax.set_title(f"{target}: MAE while serving", fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    return _png(fig)


def predicted_vs_measured_png(rows: pd.DataFrame, version: str | None) -> bytes:
    """The current champion's ledger rows: predicted (with interval) against measured, per target."""
    fig, axes = _figure(len(TARGETS), 3.0 * len(TARGETS))
    mine = rows[rows["model_version"].astype(str) == str(version)] if version is not None and len(rows) else rows.iloc[:0]
    for ax, target in zip(axes, TARGETS):
        cells = mine[mine["target"] == target]
        if len(cells):
            y = cells["predicted"].astype(float)
            # a value outside its (clipped) interval draws no bar on that side
            below = np.maximum(y - cells["predicted_lo"].astype(float), 0.0)
            above = np.maximum(cells["predicted_hi"].astype(float) - y, 0.0)
            ax.errorbar(cells["measured"].astype(float), y, yerr=[below, above], fmt="o", ms=3, alpha=0.6,
                        elinewidth=0.6)
            lo = float(min(cells["measured"].min(), y.min()))
            hi = float(max(cells["measured"].max(), y.max()))
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_title(f"{target} (v{version or '-'})", fontsize=9)
        ax.set_xlabel("measured", fontsize=8)
        ax.set_ylabel("predicted", fontsize=8)
    return _png(fig)


def coverage_png(document: Mapping[str, Any]) -> bytes:
    """Interval coverage per champion period and target (the nominal 95 % as a line)."""
    fig, axes = _figure(1, 8.0)
    ax = axes[0]
    versions = document["versions"]
    width = 0.8 / len(TARGETS)
    for j, target in enumerate(TARGETS):
        values = [v["targets"][target]["coverage"] or 0.0 for v in versions]
        ax.bar(np.arange(len(versions)) + j * width, values, width, label=target)
    ax.axhline(0.95, color="k", ls="--", lw=0.8)
    ax.set_xticks(np.arange(len(versions)) + 0.4 - width / 2, [f"v{v['version']}" for v in versions])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of measurements inside the interval")
    ax.legend(fontsize=7, ncols=len(TARGETS))
    return _png(fig)


def load_history(con: Any, gold_cfg: Any = None) -> tuple[dict[str, Any], pd.DataFrame]:
    """(the history document, the ledger rows that count) from the warehouse; only reads (a read-only
    connection will do), and an empty warehouse gives an empty history."""
    from rexai_assets.evaluation.ledger import champion_periods, read_ledger
    from rexai_assets.gold.contract import gold_settings
    from rexai_assets.warehouse import table_exists

    labels = (gold_cfg or gold_settings()).labels
    audit = (con.execute("SELECT action, model_version, created_at FROM registry.approval_audit_log "
                         "ORDER BY created_at, audit_id").df()
             if table_exists(con, "registry", "approval_audit_log") else pd.DataFrame(
                 {"action": [], "model_version": [], "created_at": pd.Series(dtype="datetime64[ns]")}))
    proposals = (con.execute(f"SELECT {', '.join(PROPOSAL_COLUMNS)} FROM registry.promotion_proposals").df()
                 if table_exists(con, "registry", "promotion_proposals") else pd.DataFrame(columns=list(PROPOSAL_COLUMNS)))
    ledger = read_ledger(con)
    trusted = tuple(labels.trusted_sources)
    document = history_document(ledger, champion_periods(audit), proposals, trusted, labels.verdict_weights)
    return document, scored_rows(ledger, trusted, labels.verdict_weights)


PROPOSAL_COLUMNS = ("proposal_id", "created_at", "trigger", "challenger_version", "champion_version",
                    "recommendation", "status", "criteria")
