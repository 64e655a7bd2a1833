"""The second vote through its two doors (CLI and the `review_promotion` job), and serving during a switch."""

from __future__ import annotations

import threading
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from rexai_assets.cli import main as rexai
from rexai_assets.definitions import build_definitions
from rexai_assets.evaluation import promotion
from rexai_assets.paths import layout
from rexai_assets.resources import build_resources

from rexai_assets_tests.test_evaluation_promotion import audit_rows, make_proposal


@pytest.fixture(scope="module")
def two_small_models(tmp_path_factory) -> tuple[Path, Path]:
    """Two really trained ensembles of different seeds, saved once for the module."""
    from rexai_assets.raw.tables import load_raw_tables
    from rexai_assets.models.testing import saved_small_ensemble, small_gold

    tables = load_raw_tables(Path(__file__).resolve().parents[1] / "data" / "raw")
    gold = small_gold(tables, size=400)
    base = tmp_path_factory.mktemp("models")
    return (saved_small_ensemble(gold, base / "a", seed=1, autoencoder=False),
            saved_small_ensemble(gold, base / "b", seed=2, autoencoder=False))


@pytest.fixture
def registry(two_small_models):
    """Registered model `rexai` with versions 1 and 2 (really loadable), champion = 1 via an auto PROMOTE."""
    resources = build_resources()
    mlflow = resources["mlflow"]
    client = mlflow.client()
    client.create_registered_model("rexai")
    mlflow.configure()
    for directory in two_small_models:
        with mlflow.start_run("small") as run:
            import mlflow as mlflow_module

            mlflow_module.log_artifacts(str(directory), artifact_path="model")
            client.create_model_version("rexai", source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    desk = promotion.desk_from_resources(resources)
    desk.record(make_proposal("PROMOTE", "1", None), mode="auto")
    return desk


def pending_review(desk, challenger: str = "2") -> str:
    proposal = make_proposal("REVIEW", challenger, desk.registry.champion())
    desk.record(proposal, mode="auto")
    return proposal.proposal_id


def test_cli_approve_reject_rollback_each_leave_one_audit_row(registry, capsys):
    approve_id = pending_review(registry)
    assert rexai(["approve", approve_id, "--reviewer", "ana", "--notes", "lab batch 7"]) == 0
    assert "champion v1 -> v2" in capsys.readouterr().out
    assert registry.registry.champion() == "2" and len(audit_rows(registry)) == 2

    decline_id = pending_review(registry, challenger="1")
    assert rexai(["approve", decline_id, "--reviewer", "ben", "--reject"]) == 0
    assert registry.registry.champion() == "2" and len(audit_rows(registry)) == 3

    assert rexai(["rollback", "--reviewer", "ana"]) == 0
    assert registry.registry.champion() == "1" and len(audit_rows(registry)) == 4
    assert list(audit_rows(registry)["action"]) == ["auto_promote", "approve", "decline", "rollback_to"]

    assert rexai(["approve", approve_id, "--reviewer", "ana"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"rexai approve: proposal {approve_id} is PROMOTED, not PENDING_APPROVAL"
    assert len(audit_rows(registry)) == 4

    assert rexai(["proposals", "--pending"]) == 0
    assert capsys.readouterr().out.strip() == "no proposals"
    assert rexai(["status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("champion: v1") and "pending proposals: 0" in out


def test_review_promotion_job_applies_the_decision_once(registry):
    proposal_id = pending_review(registry)
    defs = build_definitions()
    job = defs.resolve_job_def("review_promotion")

    def review(decision: str):
        config = {"proposal_id": proposal_id, "decision": decision, "reviewer": "chief engineer", "notes": "ok"}
        return job.execute_in_process(run_config={"ops": {"apply_review": {"config": config}}},
                                      instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)

    result = review("approve")
    assert result.success and registry.registry.champion() == "2"
    log = audit_rows(registry)
    assert len(log) == 2 and log.iloc[-1]["reviewer"] == "chief engineer" and log.iloc[-1]["action"] == "approve"
    again = review("reject")  # already decided: refused with a reason, nothing written
    assert not again.success and len(audit_rows(registry)) == 2


def test_predictions_during_promotions_come_from_one_whole_version(registry):
    """Readers resolve the alias at call time; while it flips, every answer is one version's, never a mix."""
    from rexai_assets.gold.candidates import recipe_candidates_pool
    from rexai_assets.models.registry import load_model_version
    from rexai_assets.raw.tables import load_raw_tables
    from rexai_assets.models.scorer import load_scorer

    tables = load_raw_tables(layout().ensure().raw)
    X = recipe_candidates_pool(tables, size=50, seed=9)
    mlflow = build_resources()["mlflow"]
    reference = {}
    for version in ("1", "2"):
        model = load_model_version(mlflow, version)[0]
        reference[version] = model.predict(X[list(model.feature_names)].to_numpy(np.float64))["rigidity"]["value"]
    assert not np.allclose(reference["1"], reference["2"])

    seen, errors, stop = [], [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                scorer = load_scorer(mlflow)
                got = scorer.predict(X[list(scorer.feature_names)].to_numpy(np.float64))
                seen.append((scorer.version, got["rigidity"]["value"]))
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(repr(exc))

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for _ in range(3):
        registry.decide(pending_review(registry), "ana", approve=True)
        registry.rollback("ana")
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == [] and len(seen) >= 2
    for version, values in seen:
        assert np.array_equal(values, reference[version]), version
