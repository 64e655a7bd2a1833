"""`review_promotion`: the second vote from the UI, with typed run config, on any proposal.

It lives in the lowest layer that knows both kinds of proposals: the shared model's (`PR-…`,
evaluation/promotion.py) and the habitat adapters' (`HP-…`, habitats/vote.py); `habitats.vote.apply_vote`
is the one door it shares with `rexai approve`."""

import dagster as dg

from rexai_assets.habitats.vote import Decision
from rexai_assets.resources import WAREHOUSE_WRITE, MlflowTracking, RexaiStorage, Warehouse


class ReviewDecision(dg.Config):
    """A person's decision on one proposal, the shared model's (PR-…) or a habitat adapter's (HP-…)."""

    proposal_id: str
    decision: Decision
    reviewer: str
    notes: str = ""
    # with decision request_tests (shared proposals only): experiments where challenger and champion disagree most
    tests: int = 10


@dg.op(description="Apply a reviewer's approve / reject / request_tests decision to a pending proposal (PR-… or HP-…).",
       tags=WAREHOUSE_WRITE)
def apply_review(context: dg.OpExecutionContext, config: ReviewDecision, storage: RexaiStorage,
                 warehouse: Warehouse, mlflow: MlflowTracking) -> dict:
    from rexai_assets.evaluation.promotion import PromotionError, promotion_settings
    from rexai_assets.habitats.vote import apply_vote

    try:
        outcome = apply_vote(config.proposal_id, config.decision, config.reviewer, config.notes or None, config.tests,
                             {"storage": storage, "warehouse": warehouse, "mlflow": mlflow})
    except PromotionError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    registered = getattr(outcome.proposal, "registered_model", None) or promotion_settings().registered_model
    context.log.info(f"{outcome.action}: {registered} champion v{outcome.champion_before} -> v{outcome.champion_after}")
    context.add_output_metadata({"action": outcome.action, "registered_model": registered,
                                 "champion_before": str(outcome.champion_before),
                                 "champion_after": str(outcome.champion_after), "audit_id": outcome.audit_id})
    return {"action": outcome.action, "registered_model": registered, "champion_after": outcome.champion_after,
            "audit_id": outcome.audit_id}


@dg.job(description="The second vote on a proposal, the shared model's (PR-…) or a habitat adapter's (HP-…), from the "
                    "UI (launchpad config: proposal_id, decision, reviewer, notes, tests).")
def review_promotion():
    apply_review()
