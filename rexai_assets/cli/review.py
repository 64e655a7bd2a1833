"""`rexai proposals show ID`: the review page of one proposal, for the second vote in a terminal."""

from __future__ import annotations

import argparse
from pathlib import Path

from rexai_assets.cli import CommandError


def write_plots(folder: Path, proposal_id: str, plots: dict[str, bytes]) -> list[Path]:
    """`<proposal id>_<plot>.png` next to the proposal's JSON, each written atomically."""
    from rexai_assets.atomic import write_bytes_atomic

    return [write_bytes_atomic(folder / f"{proposal_id}_{name}.png", png) for name, png in plots.items()]


def sealed_bundle_of(folder: Path, version: str | None) -> tuple[str, str] | None:
    from rexai_assets.serving.bundle import sealed_bundle

    found = sealed_bundle(folder, version) if version else None
    return (found.path.name, found.sha256) if found else None


def cmd_show(args: argparse.Namespace) -> int:
    from rexai_assets.evaluation.evaluate import evaluation_path
    from rexai_assets.evaluation.promotion import desk_from_resources, fetch_proposals
    from rexai_assets.evaluation.review import build_review_page, stored_measured_golden
    from rexai_assets.paths import layout

    from rexai_assets.habitats.store import is_habitat_proposal

    if is_habitat_proposal(args.proposal_id):
        return show_habitat(args.proposal_id)
    desk = desk_from_resources()
    with desk.connect() as con:
        found = fetch_proposals(con, args.proposal_id, limit=1)
    if not found:
        raise CommandError(f"no proposal {args.proposal_id!r} (rexai proposals lists them)")
    proposal, data = found[0], layout()
    measured = stored_measured_golden(evaluation_path(data, proposal.challenger_version))
    page = build_review_page(proposal, measured, sealed_bundle_of(data.bundles, proposal.challenger_version))
    print(proposal.summary())
    print(page.text())
    for path in write_plots(desk.json_folder, proposal.proposal_id, page.plots):
        print(f"plot: {path}")
    return 0


def show_habitat(proposal_id: str) -> int:
    """A habitat adapter proposal: its criteria on the habitat's golden slice, lineage and how to decide."""
    from rexai_assets.habitats.store import PENDING, fetch_habitat_proposals
    from rexai_assets.habitats.vote import desk_from_resources

    with desk_from_resources().connect() as con:
        found = fetch_habitat_proposals(con, proposal_id)
    if not found:
        raise CommandError(f"no proposal {proposal_id!r} (rexai proposals lists them)")
    proposal = found[0]
    print(proposal.summary())
    print(f"habitat {proposal.habitat}: adapter v{proposal.adapter_version} against the shared champion "
          f"v{proposal.base_model_version} alone, on the habitat's golden slice")
    for criterion in proposal.criteria:
        print(f"  {'PASS' if criterion['passed'] else 'FAIL'} {criterion['detail']}")
    for key, value in sorted(proposal.lineage.items()):
        print(f"  {key}: {value}")
    if proposal.status == PENDING:
        print(f"decide: rexai approve {proposal_id} --reviewer NAME [--reject] [--notes TEXT]")
    return 0


def add_show(proposals: argparse.ArgumentParser) -> None:
    """`show ID` under `rexai proposals` (which lists them without a sub-command)."""
    actions = proposals.add_subparsers(dest="proposals_action", metavar="show ID")
    show = actions.add_parser("show", help="the review page: predicted vs measured, criteria, lineage, how to decide")
    show.add_argument("proposal_id")
    show.set_defaults(handler=cmd_show)
