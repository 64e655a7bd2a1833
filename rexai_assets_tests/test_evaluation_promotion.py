"""The second vote against a real MLflow registry (sqlite) and the warehouse: every decision moves the
champion alias as it should and leaves exactly one audit row."""

from __future__ import annotations

import pytest

from rexai_assets.evaluation import promotion
from rexai_assets.resources import build_resources


@pytest.fixture
def desk(tmp_path):
    resources = build_resources()
    client = resources["mlflow"].client()
    client.create_registered_model("rexai")
    (tmp_path / "artefact").mkdir()
    for _ in range(3):
        client.create_model_version("rexai", source=str(tmp_path / "artefact"))
    return promotion.desk_from_resources(resources)


def make_proposal(recommendation: str, challenger: str, champion: str | None) -> promotion.Proposal:
    return promotion.Proposal(
        proposal_id=promotion.new_proposal_id(challenger), created_at=promotion.now_utc(),
        recommendation=recommendation, confidence=0.9, status="", challenger_version=challenger,
        champion_version=champion, baseline="champion" if champion else "heuristic", improvement=0.05,
        criteria=[{"name": "x", "passed": recommendation != "REJECT", "detail": "energy_kwh MAE 0.1 > 0.08"}],
        deltas={}, lineage={"dataset_hash": "abc"})


def audit_rows(desk):
    with desk.connect() as con:
        return promotion.audit_log(con)


def test_auto_mode_applies_promote_at_once(desk):
    outcome = desk.record(make_proposal("PROMOTE", "1", None), mode="auto")
    assert outcome.action == "auto_promote" and desk.registry.champion() == "1"
    log = audit_rows(desk)
    assert len(log) == 1 and log.iloc[0]["reviewer"] == promotion.AUTO_REVIEWER
    with desk.connect() as con:
        stored = promotion.fetch_proposals(con, outcome.proposal.proposal_id)[0]
    assert stored.status == promotion.PROMOTED and stored.lineage == {"dataset_hash": "abc"}
    assert (desk.json_folder / f"{stored.proposal_id}.json").exists()


def test_review_and_manual_wait_for_a_person(desk):
    assert desk.record(make_proposal("REVIEW", "1", None), mode="auto") is None
    assert desk.record(make_proposal("PROMOTE", "2", None), mode="manual") is None
    assert desk.registry.champion() is None and audit_rows(desk).empty
    with desk.connect() as con:
        assert {p.status for p in promotion.fetch_proposals(con)} == {promotion.PENDING}


def test_reject_is_never_applied(desk):
    proposal = make_proposal("REJECT", "1", None)
    assert desk.record(proposal, mode="auto") is None
    assert desk.registry.champion() is None
    with pytest.raises(promotion.PromotionError, match="is REJECTED, not PENDING_APPROVAL"):
        desk.decide(proposal.proposal_id, "ana", approve=True)
    assert audit_rows(desk).empty


def test_approve_then_decline_then_rollback_each_leave_one_audit_row(desk):
    desk.record(make_proposal("PROMOTE", "1", None), mode="auto")
    review = make_proposal("REVIEW", "2", "1")
    desk.record(review, mode="auto")
    outcome = desk.decide(review.proposal_id, "ana", approve=True, notes="lab batch 7 looks right")
    assert (outcome.champion_before, outcome.champion_after) == ("1", "2") and desk.registry.champion() == "2"
    client = desk.registry.client
    assert client.get_model_version("rexai", "1").tags["archived"] == "true"
    assert len(audit_rows(desk)) == 2

    declined = make_proposal("REVIEW", "3", "2")
    desk.record(declined, mode="auto")
    outcome = desk.decide(declined.proposal_id, "ben", approve=False, notes="not convinced")
    assert outcome.proposal.status == promotion.DECLINED and desk.registry.champion() == "2"
    assert len(audit_rows(desk)) == 3

    outcome = desk.rollback("ana", notes="field report")
    assert (outcome.champion_before, outcome.champion_after) == ("2", "1") and desk.registry.champion() == "1"
    log = audit_rows(desk)
    assert list(log["action"]) == ["auto_promote", "approve", "decline", "rollback_to"]
    assert list(log["previous_champion"].fillna("-")) == ["-", "1", "2", "2"]
    with pytest.raises(promotion.PromotionError, match="no previous champion"):
        desk.rollback("ana")
    assert len(audit_rows(desk)) == 4


def test_stale_proposal_and_bad_reviewer_are_refused(desk):
    desk.record(make_proposal("PROMOTE", "1", None), mode="auto")
    stale = make_proposal("REVIEW", "3", None)  # made when there was no champion
    desk.record(stale, mode="auto")
    with pytest.raises(promotion.PromotionError, match="champion changed"):
        desk.decide(stale.proposal_id, "ana", approve=True)
    with pytest.raises(promotion.PromotionError, match="reviewer name is required"):
        desk.decide(stale.proposal_id, "  ", approve=False)
    with pytest.raises(promotion.PromotionError, match="no proposal 'PR-nope'"):
        desk.decide("PR-nope", "ana", approve=True)
    assert len(audit_rows(desk)) == 1
