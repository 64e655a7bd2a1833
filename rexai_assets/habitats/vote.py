"""The second vote on a habitat adapter proposal: `rexai approve HP-… --reviewer R [--reject] [--notes T]`.

The shared second vote's rules and code (evaluation/promotion.py) on the habitat's own tables
(habitats/store.py): only a proposal waiting for a person (PENDING_APPROVAL, a REVIEW of the habitat gate in
`mode: manual`, or any passing one) is decided, by a named reviewer; a REJECT is never applied; approving
moves the adapter's `champion` alias first and then records the status and one audit row (`approve`) in one
transaction, the alias moving back if recording fails (`move_champion`); declining records status DECLINED
and one audit row (`decline`). Decisions hold the shared desk's lock. The counterpart of the shared check
"the champion changed since the proposal": an adapter is approved only while its base is still the shared
champion (serving would refuse it on any other base), and never over a newer adapter of the habitat.
The habitat's status file (`models/habitats/<id>.json`) follows when it describes this proposal, so serving
explains the decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Literal, get_args

from rexai_assets.habitats.store import HabitatProposal

Connect = Callable[[], ContextManager[Any]]


@dataclass
class HabitatDesk:
    """Applies second votes to habitat proposals; one per (warehouse, registry, data root)."""

    connect: Connect
    client: Any          # the MLflow client of the registry holding `rexai` and `rexai-habitat-<id>`
    lock_path: Path
    models_dir: Path

    def registry(self, name: str) -> Any:
        from rexai_assets.evaluation.promotion import ChampionRegistry, PromotionSettings, promotion_settings

        shared = promotion_settings()
        return ChampionRegistry(self.client, shared if name == shared.registered_model else
                                PromotionSettings(registered_model=name))

    def pending(self, proposal_id: str) -> HabitatProposal:
        from rexai_assets.evaluation.promotion import waiting_proposal
        from rexai_assets.habitats.store import fetch_habitat_proposals

        with self.connect() as con:
            return waiting_proposal(fetch_habitat_proposals(con, proposal_id), proposal_id)

    def decide(self, proposal_id: str, reviewer: str, approve: bool, notes: str | None = None) -> Any:
        """Approve or decline; a `DecisionOutcome` whose champions are the adapter's."""
        from rexai_assets.atomic import locked
        from rexai_assets.evaluation.promotion import check_applicable, check_reviewer, move_champion

        reviewer = check_reviewer(reviewer)
        with locked(self.lock_path):
            proposal = self.pending(proposal_id)
            adapters = self.registry(proposal.registered_model)
            if not approve:
                outcome = self.record(proposal, "decline", reviewer, notes, adapters.champion())
            else:
                check_applicable(proposal.recommendation, proposal_id)
                self.check_base(proposal, adapters.champion())
                outcome = move_champion(adapters, proposal.adapter_version,
                                        lambda previous: self.record(proposal, "approve", reviewer, notes, previous))
            self.follow_status(proposal, reviewer)
        return outcome

    def check_base(self, proposal: HabitatProposal, adapter_champion: str | None) -> None:
        from rexai_assets.evaluation.promotion import PromotionError, promotion_settings

        shared = self.registry(promotion_settings().registered_model).champion()
        if shared != str(proposal.base_model_version):
            raise PromotionError(f"the shared champion changed since proposal {proposal.proposal_id} was made "
                                 f"(adapter built on v{proposal.base_model_version}, champion is v{shared or '-'}); "
                                 "serving would refuse it: rebuild the adapter")
        if adapter_champion is not None and int(adapter_champion) > int(proposal.adapter_version):
            raise PromotionError(f"a newer adapter v{adapter_champion} of {proposal.registered_model} is champion "
                                 f"since proposal {proposal.proposal_id} was made")

    def record(self, proposal: HabitatProposal, action: str, reviewer: str, notes: str | None,
               previous: str | None) -> Any:
        """The decision's status and its audit row, in one transaction."""
        from rexai_assets.evaluation.promotion import DecisionOutcome
        from rexai_assets.habitats.store import DECLINED, PROMOTED, append_audit, set_status
        from rexai_assets.warehouse import transaction

        approve = action == "approve"
        with self.connect() as con, transaction(con):
            set_status(con, proposal, PROMOTED if approve else DECLINED)
            audit_id = append_audit(con, proposal.habitat, action, proposal.adapter_version, proposal.proposal_id,
                                    reviewer, notes, previous)
        return DecisionOutcome(proposal, action, previous, proposal.adapter_version if approve else previous,
                               audit_id)

    def follow_status(self, proposal: HabitatProposal, reviewer: str) -> None:
        from rexai_assets.habitats.service import decision_note, read_status, write_status_document

        status = read_status(self.models_dir, proposal.habitat)
        if status is not None and status.get("proposal_id") == proposal.proposal_id:
            write_status_document(self.models_dir, proposal.habitat, {
                **status, "status": proposal.status, "note": decision_note(proposal, reviewer)})


def desk_from_resources(resources: dict[str, Any] | None = None) -> HabitatDesk:
    """A habitat desk for the current environment, sharing the shared desk's lock."""
    from rexai_assets.resources import build_resources

    resources = resources or build_resources()
    data = resources["storage"].layout
    return HabitatDesk(resources["warehouse"].connect, resources["mlflow"].client(), data.root / "registry.lock",
                       data.models)


# A second vote's answers: the one list `rexai approve` and the `review_promotion` job's typed config use.
Decision = Literal["approve", "reject", "request_tests"]
DECISIONS: tuple[str, ...] = get_args(Decision)


def apply_vote(proposal_id: str, decision: str, reviewer: str, notes: str | None = None, tests: int | None = None,
               resources: dict[str, Any] | None = None) -> Any:
    """The second vote on any proposal, the one door of `rexai approve` and the `review_promotion` job: a habitat
    adapter's (`HP-…`) on its habitat desk, the shared model's (`PR-…`) on the shared desk. `request_tests`
    (`tests` experiments) is the shared model's only: an adapter is approved or rejected. A `DecisionOutcome`."""
    from rexai_assets.evaluation.promotion import PromotionError, desk_from_resources as shared_desk
    from rexai_assets.habitats.store import is_habitat_proposal

    if decision not in DECISIONS:
        raise PromotionError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
    if is_habitat_proposal(proposal_id):
        if decision == "request_tests":
            raise PromotionError("requesting tests plans experiments for the shared model; an adapter proposal "
                                 "is approved or rejected")
        return desk_from_resources(resources).decide(proposal_id, reviewer, approve=decision == "approve", notes=notes)
    desk = shared_desk(resources)
    if decision == "request_tests":
        return desk.request_tests(proposal_id, reviewer, int(tests or 0), notes=notes)
    return desk.decide(proposal_id, reviewer, approve=decision == "approve", notes=notes)
