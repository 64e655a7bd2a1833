"""Evaluate the registry's challenger and champion on the current gold, and turn that into a proposal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import dagster as dg
import numpy as np
import pandas as pd

from rexai_assets.atomic import write_text_atomic
from rexai_assets.evaluation import gate
from rexai_assets.gold.contract import TARGETS
from rexai_assets.models.rules import MEASURED_SLICE
from rexai_assets.paths import DataLayout

EVALUATED_SPLITS = ("golden", "test")
STORED_DIGITS = 6


def evaluation_path(layout: DataLayout, challenger_version: str | None) -> Path:
    """`models/evaluations/v<version>.json`: a challenger's evaluation report."""
    return layout.models / "evaluations" / f"v{challenger_version}.json"


def truth_frame(gold: Any) -> pd.DataFrame:
    """Golden and test rows with their coarse slice (simulated / measured / untrusted)."""
    rows = gold.frame[gold.frame["split"].isin(EVALUATED_SPLITS)].reset_index(drop=True)
    slices = gate.slice_labels(rows["label_source"], gold.trusted_sources)
    return rows.assign(slice=slices["slice"].to_numpy())


def heuristic_predictions(features: pd.DataFrame) -> dict[str, dict[str, np.ndarray]]:
    """The rule set as a 'model' (a point prediction; its interval is the point)."""
    from rexai_assets.gold.heuristic import heuristic_props

    props = heuristic_props(features)
    return {t: {"value": props[t].to_numpy(float), "lo": props[t].to_numpy(float), "hi": props[t].to_numpy(float)}
            for t in TARGETS}


def model_metrics(name: str, predictions: Any, truth: pd.DataFrame) -> pd.DataFrame:
    """Per coarse slice, and per measured label source (lab, iss_sim, …) as finer slices."""
    coarse = gate.slice_metrics(name, predictions, truth, TARGETS)
    measured = truth["label_source"] != "simulated"
    if not measured.any():
        return coarse
    by_source = gate.slice_metrics(name, predictions, truth.assign(slice=truth["label_source"]).loc[measured], TARGETS)
    return pd.concat([coarse, by_source], ignore_index=True)


def _rounded(values: np.ndarray) -> list[float | None]:
    return [float(f"{v:.{STORED_DIGITS}g}") if np.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def measured_golden_predictions(truth: pd.DataFrame, predictions: Mapping[str, gate.Predictions]) -> dict:
    """Per target, the trusted measured golden rows' recipe ids, measured values and each model's point
    prediction (6 significant digits): what the review page plots, stored with the evaluation so that
    the page can be rebuilt later without the models."""
    rows = truth[(truth["split"] == "golden") & (truth["slice"] == MEASURED_SLICE)]
    stored = {}
    for target in TARGETS:
        labelled = rows[rows[target].notna()]
        if labelled.empty:
            continue
        positions = labelled.index.to_numpy()
        stored[target] = {"recipe_id": labelled["recipe_id"].astype(str).tolist(),
                          "measured": _rounded(labelled[target].to_numpy(float)),
                          **{name: _rounded(np.asarray(pred[target]["value"], dtype=float)[positions])
                             for name, pred in predictions.items()}}
    return stored


def evaluate_models(gold: Any, challenger: Any, champion: Any | None) -> tuple[pd.DataFrame, dict]:
    """Per-slice metrics of every model on the same rows, and the measured golden predictions of the two models."""
    truth = truth_frame(gold)
    features = truth[list(gold.feature_names)]
    X = features.to_numpy(np.float64)
    predictions = {"challenger": challenger.predict(X)}
    if champion is not None:
        predictions["champion"] = champion.predict(X)
    metrics = [model_metrics(name, pred, truth) for name, pred in predictions.items()]
    metrics.insert(1, model_metrics("heuristic", heuristic_predictions(features), truth))
    return pd.concat(metrics, ignore_index=True), measured_golden_predictions(truth, predictions)


def evaluate_registry_models(gold: Any, mlflow: Any, layout: DataLayout) -> gate.EvaluationReport:
    """Load `challenger` and `champion` from the registry (at call time) and evaluate them on the same rows."""
    from rexai_assets.models.registry import CHALLENGER, CHAMPION, FeatureContractMismatch, load_model_by_alias

    loaded = load_model_by_alias(mlflow, CHALLENGER, expected_feature_order_hash=gold.feature_order_hash)
    if loaded is None:
        raise dg.Failure(description="no registered model carries the alias 'challenger'; train first")
    challenger, challenger_info = loaded
    champion, champion_version, note = None, None, None
    try:
        loaded_champion = load_model_by_alias(mlflow, CHAMPION, expected_feature_order_hash=gold.feature_order_hash)
    except FeatureContractMismatch as exc:
        # An old champion built on another feature contract cannot score these rows; it cannot be served
        # either, so the challenger is judged against the heuristic, and the proposal says why.
        loaded_champion, note = None, f"champion not comparable: {exc}"
    if loaded_champion is not None:
        champion, champion_version = loaded_champion[0], loaded_champion[1].version
    metrics, measured = evaluate_models(gold, challenger, champion)
    lineage = {"raw_files": (getattr(gold, "lineage", None) or {}).get("raw_files"),
               "dataset_hash": gold.dataset_hash, "config_hash": gold.config_hash,
               "feature_order_hash": gold.feature_order_hash,
               "challenger_model_hash": challenger.metadata.get("model_hash") if hasattr(challenger, "metadata") else None,
               "challenger_calibrated_on": challenger.metadata.get("calibrated_on") if hasattr(challenger, "metadata") else None,
               "champion_note": note}
    report = gate.EvaluationReport(metrics, challenger_info.version, champion_version, lineage, measured)
    write_text_atomic(evaluation_path(layout, challenger_info.version), json.dumps({
        "challenger_version": report.challenger_version, "champion_version": report.champion_version,
        "lineage": lineage, "metrics": metrics.to_dict("records"), "measured_golden": measured},
        indent=2, sort_keys=True, default=str))
    return report


def report_metadata(report: gate.EvaluationReport) -> dict[str, Any]:
    table = report.table("golden")
    return {
        "challenger_version": str(report.challenger_version), "champion_version": str(report.champion_version),
        "golden_mae": dg.MetadataValue.md(table.to_markdown(index=False, floatfmt=".4g")),
        "comparison": dg.MetadataValue.json(report.metrics.to_dict("records")),
        "dataset_hash": report.lineage.get("dataset_hash", ""),
    }


def propose(report: gate.EvaluationReport, storage: Any, warehouse: Any, mlflow: Any, trigger: str | None,
            run_id: str | None) -> tuple[Any, Any]:
    """Run the gate, store the proposal, and apply it when the policy says so."""
    from rexai_assets.evaluation.promotion import Proposal, build_desk, new_proposal_id, now_utc, promotion_settings

    from rexai_assets.models.config import models_config

    golden = report.metrics[report.metrics["split"] == "golden"]
    decision = gate.decide(golden, TARGETS, gate.quality_thresholds(),
                           champion="champion" if report.champion_version else None,
                           nominal_coverage=models_config().coverage_target)
    test = report.metrics[(report.metrics["split"] == "test") & (report.metrics["model"] == "challenger")]
    proposal = Proposal(
        proposal_id=new_proposal_id(report.challenger_version), created_at=now_utc(),
        recommendation=decision.recommendation, confidence=decision.confidence, status="",
        challenger_version=report.challenger_version, champion_version=report.champion_version,
        baseline=decision.baseline, improvement=decision.improvement,
        criteria=[c.__dict__ for c in decision.criteria],
        deltas={**decision.deltas, "deciding_slices": decision.deciding_slices,
                "test_split_mae": {r.target + "/" + r.slice: r.mae for r in test.itertuples()}},
        lineage=report.lineage, trigger=trigger, dagster_run_id=run_id)
    outcome = build_desk(storage, warehouse, mlflow).record(proposal, promotion_settings().mode)
    return proposal, outcome


def proposal_metadata(proposal: Any, outcome: Any, report: gate.EvaluationReport) -> dict[str, Any]:
    """The proposal's metadata in the UI: the decision, each criterion, and its review page for the second vote."""
    from rexai_assets.evaluation.review import build_review_page

    failed = [c["detail"] for c in proposal.criteria if not c["passed"]]
    return {
        "proposal_id": proposal.proposal_id, "recommendation": proposal.recommendation, "status": proposal.status,
        "challenger_version": str(proposal.challenger_version),
        "calibrated_on": dg.MetadataValue.json(report.lineage.get("challenger_calibrated_on") or {}),
        "confidence": proposal.confidence, "improvement": round(proposal.improvement, 5),
        "champion_after": str(outcome.champion_after if outcome else proposal.champion_version),
        "criteria": dg.MetadataValue.md("\n".join(
            f"- {'PASS' if c['passed'] else 'FAIL'} {c['detail']}" for c in proposal.criteria)),
        "failed": dg.MetadataValue.json(failed),
        "review_page": dg.MetadataValue.md(build_review_page(proposal, report.measured_golden).markdown())}


def failed_checks(instance: Any, run_id: str) -> list[dict]:
    """The asset checks that failed in a run, as gate criteria."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    failed = []
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if not evaluation.passed:
            problems = evaluation.metadata.get("problems")
            detail = "; ".join(map(str, problems.value)) if problems is not None and problems.value else (
                evaluation.description or "failed")
            failed.append({"name": f"check {evaluation.asset_key.to_user_string()}:{evaluation.check_name}",
                           "passed": False, "detail": detail, "target": None})
    return failed


def reject_failed_retrain(instance: Any, run_id: str, storage: Any, warehouse: Any, mlflow: Any,
                          trigger: str | None = None) -> Any | None:
    """A challenger registered by a run whose blocking checks failed gets a REJECT proposal, so every
    trained model has a recorded decision. Returns the proposal, or None when there is nothing to record."""
    from rexai_assets.evaluation.promotion import Proposal, build_desk, fetch_proposals, new_proposal_id, now_utc

    criteria = failed_checks(instance, run_id)
    if not criteria:
        return None
    desk = build_desk(storage, warehouse, mlflow)
    name = desk.registry.cfg.registered_model
    versions = desk.registry.client.search_model_versions(f"name = '{name}' and tag.dagster_run_id = '{run_id}'")
    if not versions:
        return None
    challenger = str(max(int(v.version) for v in versions))
    with desk.connect() as con:
        if any(p.challenger_version == challenger for p in fetch_proposals(con, limit=1000)):
            return None
    proposal = Proposal(
        proposal_id=new_proposal_id(challenger), created_at=now_utc(), recommendation=gate.REJECT, confidence=1.0,
        status="", challenger_version=challenger, champion_version=desk.registry.champion(), baseline="checks",
        improvement=0.0, criteria=criteria, deltas={}, lineage={"failed_run_id": run_id}, trigger=trigger,
        dagster_run_id=run_id)
    desk.record(proposal, mode="manual")
    return proposal
