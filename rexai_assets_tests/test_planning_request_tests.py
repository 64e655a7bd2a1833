"""The second vote's third answer: `--request-tests N` plans where challenger and champion disagree most,
waits for the lab, and a new proposal for the same challenger supersedes the waiting one."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pytest

from rexai_assets.cli import main as rexai
from rexai_assets.definitions import build_definitions
from rexai_assets.evaluation import promotion
from rexai_assets.planning.store import TABLE
from rexai_assets.resources import build_resources

from rexai_assets_tests.test_evaluation_promotion import audit_rows, make_proposal
from rexai_assets_tests.test_evaluation_review import pending_review, registry, two_small_models  # noqa: F401


@pytest.fixture(autouse=True)
def small_pool(config_override):
    config_override("serving.yaml", {"recommendations": {"candidates": 3000}})


def stored(desk, proposal_id: str) -> promotion.Proposal:
    with desk.connect() as con:
        return promotion.fetch_proposals(con, proposal_id)[0]


def plan_rows(desk, proposal_id: str):
    with desk.connect() as con:
        return con.execute(f"SELECT * FROM {TABLE} WHERE proposal_id = ? ORDER BY rank", [proposal_id]).fetch_df()


def pool_disagreement(recipe_ids):
    """|champion - challenger| / pool std, mean over targets, for the planning pool and for `recipe_ids`."""
    from rexai_assets.gold.feasible import recipe_records, sample_candidates
    from rexai_assets.gold.features import feature_context
    from rexai_assets.models.registry import load_model_version
    from rexai_assets.paths import layout
    from rexai_assets.planning.config import planning_settings
    from rexai_assets.raw.tables import load_raw_tables

    tables = load_raw_tables(layout().ensure().raw)
    ctx = feature_context(tables)
    cands = sample_candidates(ctx, tables.inventory, 3000, planning_settings().seed, 50.0)
    mlflow = build_resources()["mlflow"]
    a, b = (load_model_version(mlflow, v)[0].predict(cands.X) for v in ("1", "2"))
    score = np.mean([np.abs(a[t]["value"] - b[t]["value"]) / a[t]["value"].std() for t in a], axis=0)
    ids = [r["recipe_id"] for r in recipe_records(ctx, cands, range(len(cands)))]
    return score, np.array([score[ids.index(r)] for r in recipe_ids])


def test_cli_request_tests_plans_disagreement_and_waits(registry, capsys):  # noqa: F811
    proposal_id = pending_review(registry)
    assert rexai(["approve", proposal_id, "--reviewer", "ana", "--request-tests", "6", "--notes", "check tightness"]) == 0
    out = capsys.readouterr().out
    assert "AWAITING_TESTS" in out and "6 tests requested" in out
    assert stored(registry, proposal_id).status == promotion.AWAITING_TESTS
    assert registry.registry.champion() == "1"
    log = audit_rows(registry)
    assert list(log["action"]) == ["auto_promote", "request_tests"] and log.iloc[-1]["reviewer"] == "ana"
    rows = plan_rows(registry, proposal_id)
    assert len(rows) == 6 and set(rows["purpose"]) == {"disagreement"} and set(rows["status"]) == {"planned"}
    assert rows["model_version"].unique().tolist() == ["1"] and rows["recipe_id"].is_unique
    pool, picked = pool_disagreement(rows["recipe_id"])
    assert picked.min() > np.quantile(pool, 0.9), (picked, np.quantile(pool, 0.9))

    # Waiting for the lab is not pending: neither approve nor a second request applies.
    assert rexai(["approve", proposal_id, "--reviewer", "ana"]) == 1
    assert "is AWAITING_TESTS, not PENDING_APPROVAL" in capsys.readouterr().err
    assert len(audit_rows(registry)) == 2


def test_bad_requests_write_nothing(registry, capsys):  # noqa: F811
    proposal_id = pending_review(registry)
    assert rexai(["approve", proposal_id, "--reviewer", "ana", "--request-tests", "0"]) == 1
    assert capsys.readouterr().err.strip() == "rexai approve: --request-tests needs at least 1 experiment"
    assert rexai(["approve", "PR-missing", "--reviewer", "ana", "--request-tests", "3"]) == 1
    assert "no proposal 'PR-missing'" in capsys.readouterr().err
    assert len(audit_rows(registry)) == 1 and stored(registry, proposal_id).status == promotion.PENDING


def test_job_request_tests_then_a_new_proposal_supersedes(registry):  # noqa: F811
    proposal_id = pending_review(registry)
    job = build_definitions().resolve_job_def("review_promotion")
    config = {"proposal_id": proposal_id, "decision": "request_tests", "reviewer": "chief", "notes": "", "tests": 4}
    result = job.execute_in_process(run_config={"ops": {"apply_review": {"config": config}}},
                                    instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success and stored(registry, proposal_id).status == promotion.AWAITING_TESTS
    assert len(plan_rows(registry, proposal_id)) == 4

    again = make_proposal("REVIEW", "2", "1")  # the re-evaluation of the same challenger
    registry.record(again, mode="auto")
    assert stored(registry, proposal_id).status == promotion.SUPERSEDED
    assert stored(registry, again.proposal_id).status == promotion.PENDING
    log = audit_rows(registry)
    assert list(log["action"]) == ["auto_promote", "request_tests", "supersede"]
    assert again.proposal_id in log.iloc[-1]["notes"]
    other = make_proposal("REVIEW", "3", "1")  # another challenger supersedes nothing
    registry.record(other, mode="auto")
    assert len(audit_rows(registry)) == 3
