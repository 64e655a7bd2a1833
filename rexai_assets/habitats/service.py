"""One habitat's adapter end to end: rows, training on the shared champion, registration, gate, decision, status.

Dagster-free (the `habitat_adapters` asset and the benchmark call `run_habitat`). The decision follows
config/promotion.yaml `mode` like the shared gate's: in `auto` a PROMOTE moves the adapter's `champion`
alias at once, a REJECT never does, a REVIEW waits. The habitat's outcome is written to
`models/habitats/<id>.json`, which is how serving explains a habitat served by the shared model.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager

from rexai_assets.habitats.store import DECLINED, PENDING, PROMOTED, REJECTED, HabitatProposal

Connect = Callable[[], ContextManager[Any]]


@dataclass
class HabitatOutcome:
    habitat: str
    trusted_rows: int
    min_rows: int
    note: str                               # one line: what happened (serving shows it when no adapter serves)
    golden_rows: int = 0
    adapter_version: str | None = None
    recommendation: str | None = None
    status: str | None = None
    proposal_id: str | None = None
    base_model_version: str | None = None
    base_model_hash: str | None = None
    adapted_targets: list[str] = field(default_factory=list)
    # per target, what serves its interval under the adapter (models/adapters.py `interval_sources`)
    interval_sources: dict[str, str] = field(default_factory=dict)
    criteria: list = field(default_factory=list)

    def document(self) -> dict:
        return asdict(self)


def write_status(models_dir: Path, outcome: HabitatOutcome) -> Path:
    return write_status_document(models_dir, outcome.habitat, outcome.document())


def write_status_document(models_dir: Path, habitat: str, document: dict) -> Path:
    """`models/habitats/<id>.json`, written atomically (the run's outcome, or its second vote)."""
    from rexai_assets.atomic import write_text_atomic
    from rexai_assets.models.adapters import status_path

    return write_text_atomic(status_path(models_dir, habitat),
                             json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")


def read_status(models_dir: Path, habitat: str) -> dict | None:
    from rexai_assets.models.adapters import status_path

    path = status_path(models_dir, habitat)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def make_proposal(habitat: str, version: str, adapter: Any, decision: Any, dataset_hash: str,
                  trigger: str | None, run_id: str | None) -> HabitatProposal:
    from rexai_assets.evaluation.promotion import now_utc
    from rexai_assets.habitats.store import new_proposal_id
    from rexai_assets.models.adapters import registered_name

    return HabitatProposal(
        proposal_id=new_proposal_id(habitat, version), created_at=now_utc(), habitat=habitat,
        registered_model=registered_name(habitat), recommendation=decision.recommendation,
        confidence=decision.confidence, status=REJECTED if decision.recommendation == "REJECT" else PENDING,
        adapter_version=version, base_model_version=adapter.base_model_version,
        base_model_hash=adapter.base_model_hash, improvement=decision.improvement,
        criteria=[c.__dict__ for c in decision.criteria],
        deltas={**decision.deltas, "deciding_slices": decision.deciding_slices},
        lineage={"dataset_hash": dataset_hash, "adapter_hash": adapter.model_hash,
                 "adapted_targets": list(adapter.adapted), "interval_sources": adapter.interval_sources()},
        trigger=trigger, dagster_run_id=run_id)


def record_decision(proposal: HabitatProposal, client: Any, connect: Connect, mode: str) -> str | None:
    """Store the proposal and its audit row; in auto mode apply a PROMOTE (alias first, moved back if recording
    fails: `evaluation.promotion.move_champion`). Returns the adapter champion after the decision."""
    from rexai_assets.evaluation.promotion import AUTO_REVIEWER, ChampionRegistry, PromotionSettings, move_champion
    from rexai_assets.habitats.store import append_audit, insert_proposal
    from rexai_assets.warehouse import transaction

    def record(previous: str | None) -> str | None:
        with connect() as con, transaction(con):
            insert_proposal(con, proposal)
            append_audit(con, proposal.habitat, "propose", proposal.adapter_version, proposal.proposal_id,
                         AUTO_REVIEWER, f"{proposal.recommendation} by the habitat gate", previous)
            if proposal.status == PROMOTED:
                append_audit(con, proposal.habitat, "auto_promote", proposal.adapter_version, proposal.proposal_id,
                             AUTO_REVIEWER, "applied by promotion.mode=auto", previous)
        return proposal.adapter_version if proposal.status == PROMOTED else previous

    registry = ChampionRegistry(client, PromotionSettings(registered_model=proposal.registered_model))
    if mode == "auto" and proposal.recommendation == "PROMOTE":
        proposal.status = PROMOTED
        return move_champion(registry, proposal.adapter_version, record)
    return record(registry.champion())


def decision_note(proposal: HabitatProposal, reviewer: str | None = None) -> str:
    """One line on the proposal's decision: the gate's, or with `reviewer` the second vote's."""
    what = f"adapter v{proposal.adapter_version} (on shared v{proposal.base_model_version})"
    if proposal.status == PROMOTED:
        return f"{what} {f'approved by {reviewer}' if reviewer else 'promoted by the habitat gate'}"
    if proposal.status == REJECTED:
        return f"{what} REJECTED by the habitat gate: {proposal.first_failed()}"
    if proposal.status == DECLINED:
        return f"{what} declined by {reviewer or 'a reviewer'}"
    return f"{what} waits for review ({proposal.recommendation})"


def run_habitat(habitat: str, gold: Any, mlflow: Any, connect: Connect, models_dir: Path, mode: str,
                trigger: str | None = None, run_id: str | None = None) -> HabitatOutcome:
    """Train, register and gate the habitat's adapter when it has enough trusted rows; record the outcome."""
    from rexai_assets.habitat_config import habitats_config
    from rexai_assets.habitats.gate import decide_adapter, habitat_metrics
    from rexai_assets.habitats.rows import habitat_rows
    from rexai_assets.habitats.train import load_shared_champion, register_adapter, train_adapter
    from rexai_assets.models.config import models_config

    cfg = habitats_config()
    if habitat not in cfg.ids:
        raise ValueError(f"unknown habitat {habitat!r}; config/habitats.yaml lists {', '.join(cfg.ids)}")
    settings = cfg.adapter_for(habitat)
    rows = habitat_rows(gold, habitat, settings)
    outcome = HabitatOutcome(habitat, rows.trusted_rows, settings.min_rows,
                             f"{rows.trusted_rows} of {settings.min_rows} measured rows", len(rows.golden))
    base = load_shared_champion(mlflow, gold.feature_order_hash) if rows.enough(settings) else None
    if rows.enough(settings) and base is None:
        outcome.note = "no shared champion to adapt yet"
    if base is not None:
        adapter = train_adapter(gold, rows, base, settings)
        version = register_adapter(adapter, mlflow, gold.dataset_hash, run_id)
        decision = decide_adapter(habitat_metrics(gold, rows.golden, base.model, adapter), tuple(gold.target_names),
                                  models_config().coverage_target)
        proposal = make_proposal(habitat, version, adapter, decision, gold.dataset_hash, trigger, run_id)
        record_decision(proposal, mlflow.client(), connect, mode)
        outcome.note = decision_note(proposal)
        outcome.adapter_version, outcome.recommendation, outcome.status = version, proposal.recommendation, proposal.status
        outcome.proposal_id, outcome.criteria = proposal.proposal_id, proposal.criteria
        outcome.base_model_version, outcome.base_model_hash = base.version, base.identity.model_hash
        outcome.adapted_targets, outcome.interval_sources = list(adapter.adapted), adapter.interval_sources()
    write_status(models_dir, outcome)
    return outcome
