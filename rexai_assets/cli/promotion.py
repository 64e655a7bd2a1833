"""`rexai proposals`, `rexai approve`, `rexai rollback`, `rexai status`: the second vote and the state of production."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rexai_assets.cli import CommandError

LINEAGE_TAGS = ("dataset_hash", "config_hash", "feature_order_hash", "model_hash")


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
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    from rexai_assets.evaluation.promotion import PromotionError

    if args.request_tests is not None and args.request_tests < 1:
        raise CommandError("--request-tests needs at least 1 experiment")
    try:
        if args.request_tests is not None:
            outcome = _desk().request_tests(args.proposal_id, args.reviewer, args.request_tests, notes=args.notes)
        else:
            outcome = _desk().decide(args.proposal_id, args.reviewer, approve=not args.reject, notes=args.notes)
    except PromotionError as exc:
        raise CommandError(str(exc)) from None
    if outcome.action == "request_tests":
        print(f"{outcome.proposal.proposal_id}: {outcome.proposal.review_notes} (requested by {args.reviewer}); "
              f"AWAITING_TESTS, champion stays v{outcome.champion_after or '-'}")
    elif outcome.action == "decline":
        print(f"{outcome.proposal.proposal_id}: declined by {args.reviewer}; champion stays v{outcome.champion_after or '-'}")
    else:
        print(f"{outcome.proposal.proposal_id}: approved by {args.reviewer}; champion v{outcome.champion_before or '-'}"
              f" -> v{outcome.champion_after}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from rexai_assets.evaluation.promotion import PromotionError

    try:
        outcome = _desk().rollback(args.reviewer, notes=args.notes)
    except PromotionError as exc:
        raise CommandError(str(exc)) from None
    print(f"rolled back by {args.reviewer}: champion v{outcome.champion_before} -> v{outcome.champion_after}")
    return 0


def champion_details(desk: Any) -> dict[str, Any] | None:
    version = desk.registry.champion()
    if version is None:
        return None
    client = desk.registry.client
    model_version = client.get_model_version(desk.registry.cfg.registered_model, version)
    details: dict[str, Any] = {"version": version, "created": model_version.creation_timestamp,
                               "tags": dict(model_version.tags)}
    if model_version.run_id:
        run = client.get_run(model_version.run_id)
        details["metrics"] = {k: round(v, 5) for k, v in sorted(run.data.metrics.items())}
        details["lineage"] = {k: run.data.tags.get(k) or model_version.tags.get(k) for k in LINEAGE_TAGS}
        details["trained_on"] = run.data.tags.get("trained_on") or model_version.tags.get("trained_on")
    details["calibrated_on"] = json.loads(model_version.tags.get("calibrated_on") or "null")
    return details


def last_retrain() -> dict[str, Any] | None:
    import dagster as dg

    from rexai_assets.pipeline import ensure_dagster_home

    ensure_dagster_home()
    instance = dg.DagsterInstance.get()
    records = instance.get_run_records(dg.RunsFilter(tags={"rexai/retrain": "true"}), limit=1)
    if not records:
        return None
    run = records[0].dagster_run
    return {"run_id": run.run_id, "status": run.status.value, "started": str(records[0].create_timestamp),
            "trigger": run.tags.get("rexai/trigger", "unknown"),
            "counts": {k.split("/", 1)[1]: v for k, v in run.tags.items() if k.startswith("rexai/count_")}}


def cmd_status(args: argparse.Namespace) -> int:
    from rexai_assets.evaluation.promotion import PENDING, fetch_proposals
    from rexai_assets.serving.scorer import calibration_note

    desk = _desk()
    with desk.connect() as con:
        pending = [p for p in fetch_proposals(con, limit=200) if p.status == PENDING]
    status = {"champion": champion_details(desk), "pending_proposals": [p.proposal_id for p in pending],
              "last_retrain": last_retrain(), "pii_path": active_pii_path()}
    if args.json:
        print(json.dumps(status, indent=2, default=str))
        return 0
    champion = status["champion"]
    if champion is None:
        print("champion: none (predictions come from the heuristic, degraded mode)")
    else:
        print(f"champion: v{champion['version']} trained on {champion.get('trained_on') or '?'}")
        print(f"  {calibration_note(champion.get('calibrated_on'))}")
        for key, value in (champion.get("lineage") or {}).items():
            print(f"  {key}: {value}")
        for key, value in (champion.get("metrics") or {}).items():
            print(f"  {key}: {value}")
    print(f"pending proposals: {len(pending)}")
    for proposal in pending:
        print(f"  {proposal.summary()}")
    retrain = status["last_retrain"]
    print("last retrain: none" if retrain is None else
          f"last retrain: {retrain['started']} run {retrain['run_id'][:8]} {retrain['status']} "
          f"trigger={retrain['trigger']} {retrain['counts']}")
    print(f"pii path: {status['pii_path']}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    proposals = subparsers.add_parser("proposals", help="list pending and recent promotion proposals")
    proposals.add_argument("--pending", action="store_true", help="only proposals waiting for a person")
    proposals.add_argument("--limit", type=int, default=20)
    proposals.add_argument("--json", action="store_true")
    proposals.set_defaults(handler=cmd_proposals)

    approve = subparsers.add_parser("approve", help="the second vote on a proposal (approve, or --reject)")
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

    status = subparsers.add_parser("status", help="production model, pending proposals, last retrain and why, PII path")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cmd_status)
