"""`review_promotion`: the second vote from the UI, with typed run config."""

from typing import Literal

import dagster as dg

from rexai_assets.resources import WAREHOUSE_WRITE, MlflowTracking, RexaiStorage, Warehouse


class ReviewDecision(dg.Config):
    """A person's decision on one promotion proposal."""

    proposal_id: str
    decision: Literal["approve", "reject", "request_tests"]
    reviewer: str
    notes: str = ""
    tests: int = 10  # with decision request_tests: experiments where challenger and champion disagree most


@dg.op(description="Apply a reviewer's approve / reject / request_tests decision to a pending promotion proposal.",
       tags=WAREHOUSE_WRITE)
def apply_review(context: dg.OpExecutionContext, config: ReviewDecision, storage: RexaiStorage,
                 warehouse: Warehouse, mlflow: MlflowTracking) -> dict:
    from rexai_assets.evaluation.promotion import PromotionError, build_desk

    desk = build_desk(storage, warehouse, mlflow)
    try:
        if config.decision == "request_tests":
            outcome = desk.request_tests(config.proposal_id, config.reviewer, config.tests, notes=config.notes or None)
        else:
            outcome = desk.decide(config.proposal_id, config.reviewer, approve=config.decision == "approve",
                                  notes=config.notes or None)
    except PromotionError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    context.log.info(f"{outcome.action}: champion v{outcome.champion_before} -> v{outcome.champion_after}")
    context.add_output_metadata({"action": outcome.action, "champion_before": str(outcome.champion_before),
                                 "champion_after": str(outcome.champion_after), "audit_id": outcome.audit_id})
    return {"action": outcome.action, "champion_after": outcome.champion_after, "audit_id": outcome.audit_id}


@dg.job(description="The second vote on a promotion proposal, from the UI (launchpad config: proposal_id, decision, reviewer, notes, tests).")
def review_promotion():
    apply_review()
