"""`rexai proposals` (`show ID`: cli/review.py), `rexai approve`, `rexai rollback`: the second vote (`rexai status` is in cli/status.py).

The shared model's proposals (`PR-…`) and the habitat adapters' (`HP-…`, habitats/vote.py) are listed and
decided by the same commands; `--request-tests` and `rollback` are the shared model's only."""

from __future__ import annotations

import argparse
import json

from rexai_assets.cli import CommandError
from rexai_assets.cli.review import add_show

def _desk():
    from rexai_assets.evaluation.promotion import desk_from_resources

    return desk_from_resources()


def active_pii_path() -> str:
    """Which PII detection ingestion uses now (`observations.pii.pii_path`)."""
    from rexai_assets.observations.pii import pii_path

    return pii_path()


def cmd_proposals(args: argparse.Namespace) -> int:
    from rexai_assets.evaluation.promotion import PENDING, fetch_proposals

    desk = _desk()
    with desk.connect() as con:
        proposals = fetch_proposals(con, limit=args.limit)
    if args.pending:
        proposals = [p for p in proposals if p.status == PENDING]
    if args.json:
        print(json.dumps([json.loads(p.to_json()) for p in proposals], indent=2))
        return 0
    if not proposals:
        print("no proposals")
    for proposal in proposals:
        print(proposal.summary())
    adapters = habitat_proposals(args.pending, args.limit)
    if adapters:
        print("habitat adapters:")
    for proposal in adapters:
        print(proposal.summary())
    return 0


def habitat_proposals(pending: bool, limit: int) -> list:
    """The habitat adapters' proposals, newest first (in text output, after the shared model's)."""
    from rexai_assets.habitats.store import PENDING, fetch_habitat_proposals
    from rexai_assets.habitats.vote import desk_from_resources

    with desk_from_resources().connect() as con:
        found = fetch_habitat_proposals(con)
    return [p for p in found if not pending or p.status == PENDING][:limit]


def cmd_approve(args: argparse.Namespace) -> int:
    from rexai_assets.evaluation.promotion import PromotionError
    from rexai_assets.habitats.store import is_habitat_proposal
    from rexai_assets.habitats.vote import apply_vote

    if args.request_tests is not None and args.request_tests < 1:
        raise CommandError("--request-tests needs at least 1 experiment")
    decision = "request_tests" if args.request_tests is not None else "reject" if args.reject else "approve"
    try:
        outcome = apply_vote(args.proposal_id, decision, args.reviewer, args.notes, args.request_tests)
    except PromotionError as exc:
        raise CommandError(str(exc)) from None
    print(vote_line(outcome, args.reviewer, is_habitat_proposal(args.proposal_id)))
    return 0


def vote_line(outcome, reviewer: str, habitat: bool) -> str:
    """What a second vote did, in one line (a habitat adapter's champion is named with its registry and base)."""
    proposal = outcome.proposal
    if outcome.action == "request_tests":
        return (f"{proposal.proposal_id}: {proposal.review_notes} (requested by {reviewer}); "
                f"AWAITING_TESTS, champion stays v{outcome.champion_after or '-'}")
    champion = f"{proposal.registered_model} champion" if habitat else "champion"
    if outcome.action == "decline":
        return f"{proposal.proposal_id}: declined by {reviewer}; {champion} stays v{outcome.champion_after or '-'}"
    on_base = f" (on shared v{proposal.base_model_version})" if habitat else ""
    return (f"{proposal.proposal_id}: approved by {reviewer}; {champion} v{outcome.champion_before or '-'} -> "
            f"v{outcome.champion_after}{on_base}")


def cmd_rollback(args: argparse.Namespace) -> int:
    from rexai_assets.evaluation.promotion import PromotionError

    try:
        outcome = _desk().rollback(args.reviewer, notes=args.notes)
    except PromotionError as exc:
        raise CommandError(str(exc)) from None
    print(f"rolled back by {args.reviewer}: champion v{outcome.champion_before} -> v{outcome.champion_after}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    proposals = subparsers.add_parser("proposals", help="list pending and recent promotion proposals")
    proposals.add_argument("--pending", action="store_true", help="only proposals waiting for a person")
    proposals.add_argument("--limit", type=int, default=20)
    proposals.add_argument("--json", action="store_true")
    proposals.set_defaults(handler=cmd_proposals)
    add_show(proposals)

    approve = subparsers.add_parser("approve", help="the second vote on a proposal (approve, or --reject); "
                                    "PR-… the shared model's, HP-… a habitat adapter's")
    approve.add_argument("proposal_id")
    approve.add_argument("--reviewer", required=True)
    answer = approve.add_mutually_exclusive_group()
    answer.add_argument("--reject", action="store_true", help="decline instead of approving")
    answer.add_argument("--request-tests", type=int, default=None, metavar="N",
                        help="ask the lab for N experiments where challenger and champion disagree most")
    approve.add_argument("--notes")
    approve.set_defaults(handler=cmd_approve)

    rollback = subparsers.add_parser("rollback", help="put the previous champion back (audited)")
    rollback.add_argument("--reviewer", required=True)
    rollback.add_argument("--notes")
    rollback.set_defaults(handler=cmd_rollback)
