"""The second vote: proposals, their approval or rejection, rollback, and the append-only audit log.

Proposals and the audit log live in the warehouse (schema `registry`); the champion is the MLflow
registry alias. A decision moves the alias first and then records itself in one warehouse
transaction; if recording fails the alias is moved back. Decisions are serialised by a file lock
under the data root, so two reviewers can never apply conflicting decisions at once.
"""

from __future__ import annotations

import json
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import pandas as pd

from rexai_assets import settings
from rexai_assets.atomic import locked, write_text_atomic
from rexai_assets.warehouse import transaction

PENDING, PROMOTED, REJECTED, DECLINED = "PENDING_APPROVAL", "PROMOTED", "REJECTED", "DECLINED"
# The second vote's third answer: the lab runs N experiments first; a new proposal for the same challenger
# (the re-evaluation with their results) supersedes the waiting one.
AWAITING_TESTS, SUPERSEDED = "AWAITING_TESTS", "SUPERSEDED"
AUTO_REVIEWER = "policy:auto"

Connect = Callable[[], AbstractContextManager[Any]]  # returns a DuckDB connection context
# (open connection inside the decision's transaction, proposal, N) -> the plan of N disagreement experiments
TestsPlanner = Callable[[Any, "Proposal", int], Any]
Recorded = TypeVar("Recorded")

DDL = """
CREATE SCHEMA IF NOT EXISTS registry;
CREATE TABLE IF NOT EXISTS registry.promotion_proposals (
    proposal_id VARCHAR PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    recommendation VARCHAR NOT NULL,
    confidence DOUBLE,
    status VARCHAR NOT NULL,
    challenger_version VARCHAR,
    champion_version VARCHAR,
    baseline VARCHAR,
    improvement DOUBLE,
    criteria VARCHAR,
    deltas VARCHAR,
    lineage VARCHAR,
    trigger VARCHAR,
    dagster_run_id VARCHAR,
    reviewer VARCHAR,
    reviewed_at TIMESTAMP,
    review_notes VARCHAR
);
CREATE TABLE IF NOT EXISTS registry.approval_audit_log (
    audit_id VARCHAR PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    action VARCHAR NOT NULL,
    model_version VARCHAR,
    proposal_id VARCHAR,
    reviewer VARCHAR NOT NULL,
    notes VARCHAR,
    previous_champion VARCHAR
);
"""


class PromotionSettings(settings.StrictModel):
    mode: str = "auto"
    registered_model: str = "rexai"
    champion_alias: str = "champion"
    challenger_alias: str = "challenger"


def promotion_settings() -> PromotionSettings:
    cfg = settings.load("promotion.yaml", PromotionSettings)
    if cfg.mode not in ("auto", "manual"):
        raise settings.ConfigError(f"promotion.yaml: mode must be auto or manual, got {cfg.mode!r}")
    return cfg


class PromotionError(ValueError):
    """A decision that cannot be applied, with the reason."""


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def ensure_tables(con: Any) -> None:
    con.execute(DDL)


# ---------------------------------------------------------------------------------------------
# MLflow aliases


class ChampionRegistry:
    """The champion alias of one registered model."""

    def __init__(self, client: Any, cfg: PromotionSettings):
        self.client = client
        self.cfg = cfg

    def version_of(self, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(self.cfg.registered_model, alias).version)
        except MlflowException:
            return None

    def champion(self) -> str | None:
        return self.version_of(self.cfg.champion_alias)

    def set_champion(self, version: str | None, archive: str | None) -> None:
        name = self.cfg.registered_model
        if version is None:
            self.client.delete_registered_model_alias(name, self.cfg.champion_alias)
        else:
            self.client.set_registered_model_alias(name, self.cfg.champion_alias, version)
            self.client.set_model_version_tag(name, version, "archived", "false")
        if archive is not None and archive != version:
            self.client.set_model_version_tag(name, archive, "archived", "true")


def move_champion(registry: ChampionRegistry, version: str, record: Callable[[str | None], Recorded]) -> Recorded:
    """Move the champion alias to `version`, then `record(previous champion)` (the warehouse rows of the
    decision); if recording fails the alias moves back. Every door that promotes goes through here (the shared
    model's and the habitat adapters')."""
    previous = registry.champion()
    registry.set_champion(version, archive=previous)
    try:
        return record(previous)
    except Exception:
        registry.set_champion(previous, archive=None)
        raise


# ---------------------------------------------------------------------------------------------
# Proposals


@dataclass
class Proposal:
    proposal_id: str
    created_at: datetime
    recommendation: str
    confidence: float
    status: str
    challenger_version: str | None
    champion_version: str | None
    baseline: str
    improvement: float
    criteria: list[dict]
    deltas: dict
    lineage: dict
    trigger: str | None = None
    dagster_run_id: str | None = None
    reviewer: str | None = None
    reviewed_at: datetime | None = None
    review_notes: str | None = None

    def to_json(self) -> str:
        data = dict(self.__dict__)
        data["created_at"] = self.created_at.isoformat()
        data["reviewed_at"] = self.reviewed_at.isoformat() if self.reviewed_at else None
        return json.dumps(data, indent=2, sort_keys=True, default=str)

    def summary(self) -> str:
        failed = [c["detail"] for c in self.criteria if not c["passed"]]
        tail = f"; failed: {failed[0]}" + (f" (+{len(failed) - 1} more)" if len(failed) > 1 else "") if failed else ""
        return (f"{self.proposal_id} {self.recommendation:7} {self.status:16} challenger v{self.challenger_version} "
                f"vs {self.baseline} v{self.champion_version or '-'} confidence {self.confidence:.2f}{tail}")


JSON_COLUMNS = ("criteria", "deltas", "lineage")


def new_proposal_id(challenger_version: str | None) -> str:
    return f"PR-{now_utc():%Y%m%d%H%M%S}-v{challenger_version or 'none'}-{uuid.uuid4().hex[:6]}"


def insert_proposal(con: Any, proposal: Proposal) -> None:
    ensure_tables(con)
    record = {k: (json.dumps(v, sort_keys=True, default=str) if k in JSON_COLUMNS else v)
              for k, v in proposal.__dict__.items()}
    columns = ", ".join(record)
    con.execute(f"INSERT INTO registry.promotion_proposals ({columns}) VALUES ({', '.join('?' * len(record))})",
                list(record.values()))


def _row_to_proposal(row: dict) -> Proposal:
    for key in JSON_COLUMNS:
        row[key] = json.loads(row[key]) if row[key] else ({} if key != "criteria" else [])
    for key in ("created_at", "reviewed_at"):
        if row[key] is not None and pd.isna(row[key]):
            row[key] = None
    return Proposal(**row)


def fetch_proposals(con: Any, proposal_id: str | None = None, limit: int = 50) -> list[Proposal]:
    ensure_tables(con)
    query = "SELECT * FROM registry.promotion_proposals"
    params: list[Any] = []
    if proposal_id:
        query += " WHERE proposal_id = ?"
        params.append(proposal_id)
    query += " ORDER BY created_at DESC, proposal_id DESC LIMIT ?"
    params.append(limit)
    frame = con.execute(query, params).fetch_df()
    return [_row_to_proposal(r) for r in frame.astype(object).where(frame.notna(), None).to_dict("records")]


def audit_log(con: Any) -> pd.DataFrame:
    ensure_tables(con)
    return con.execute("SELECT * FROM registry.approval_audit_log ORDER BY created_at, audit_id").fetch_df()


def append_audit(con: Any, action: str, model_version: str | None, proposal_id: str | None, reviewer: str,
                 notes: str | None, previous_champion: str | None) -> str:
    """The only write the audit log ever receives: an INSERT."""
    audit_id = uuid.uuid4().hex
    con.execute("INSERT INTO registry.approval_audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [audit_id, now_utc(), action, model_version, proposal_id, reviewer, notes, previous_champion])
    return audit_id


def write_proposal_json(folder: Path, proposal: Proposal) -> Path:
    return write_text_atomic(folder / f"{proposal.proposal_id}.json", proposal.to_json())


def supersede_waiting(con: Any, new: Proposal) -> list[Proposal]:
    """Proposals of `new`'s challenger that were waiting for requested tests become SUPERSEDED (one audit row each)."""
    waiting = [p for p in fetch_proposals(con, limit=1000)
               if p.status == AWAITING_TESTS and p.challenger_version == new.challenger_version
               and p.proposal_id != new.proposal_id]
    for old in waiting:
        text = f"superseded by {new.proposal_id} ({new.recommendation})"
        PromotionDesk._set_status(con, old, SUPERSEDED, AUTO_REVIEWER, text)
        append_audit(con, "supersede", old.challenger_version, old.proposal_id, AUTO_REVIEWER, text, new.champion_version)
    return waiting


# ---------------------------------------------------------------------------------------------
# Decisions


@dataclass
class DecisionOutcome:
    proposal: Proposal
    action: str
    champion_before: str | None
    champion_after: str | None
    audit_id: str


def check_reviewer(reviewer: str) -> str:
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise PromotionError("a reviewer name is required")
    return reviewer


def waiting_proposal(found: Sequence[Recorded], proposal_id: str) -> Recorded:
    """The proposal found for `proposal_id`, which must be waiting for a person (status PENDING_APPROVAL)."""
    if not found:
        raise PromotionError(f"no proposal {proposal_id!r}")
    status = getattr(found[0], "status")
    if status != PENDING:
        raise PromotionError(f"proposal {proposal_id} is {status}, not {PENDING}")
    return found[0]


def check_applicable(recommendation: str, proposal_id: str) -> None:
    """An approval never applies a REJECT."""
    if recommendation == "REJECT":
        raise PromotionError(f"proposal {proposal_id} is a REJECT; a rejected model is never applied")


class PromotionDesk:
    """Applies decisions to proposals; one instance per (warehouse, registry, data root)."""

    def __init__(self, connect: Connect, registry: ChampionRegistry, lock_path: Path, json_folder: Path,
                 planner: TestsPlanner | None = None):
        self.connect = connect
        self.registry = registry
        self.lock_path = lock_path
        self.json_folder = json_folder
        self.planner = planner

    def record(self, proposal: Proposal, mode: str) -> DecisionOutcome | None:
        """Store a new proposal, and apply it at once when the policy allows (auto mode, PROMOTE)."""
        if proposal.recommendation == "REJECT":
            proposal.status = REJECTED
        else:
            proposal.status = PENDING
        with locked(self.lock_path):
            with self.connect() as con, transaction(con):
                insert_proposal(con, proposal)
                superseded = supersede_waiting(con, proposal)
            write_proposal_json(self.json_folder, proposal)
            for old in superseded:
                write_proposal_json(self.json_folder, old)
            if mode == "auto" and proposal.recommendation == "PROMOTE":
                return self._promote(proposal, AUTO_REVIEWER, "applied by promotion.mode=auto", "auto_promote")
        return None

    def pending(self, proposal_id: str) -> Proposal:
        """The proposal, which must be waiting for a person (caller holds the lock)."""
        with self.connect() as con:
            return waiting_proposal(fetch_proposals(con, proposal_id), proposal_id)

    def decide(self, proposal_id: str, reviewer: str, approve: bool, notes: str | None = None) -> DecisionOutcome:
        reviewer = check_reviewer(reviewer)
        with locked(self.lock_path):
            proposal = self.pending(proposal_id)
            if not approve:
                return self._decline(proposal, reviewer, notes)
            check_applicable(proposal.recommendation, proposal_id)
            current = self.registry.champion()
            if current != proposal.champion_version:
                raise PromotionError(f"the champion changed since proposal {proposal_id} was made "
                                     f"(v{proposal.champion_version} -> v{current}); retrain or re-evaluate")
            return self._promote(proposal, reviewer, notes, "approve")

    def request_tests(self, proposal_id: str, reviewer: str, n: int, notes: str | None = None) -> DecisionOutcome:
        """Ask the lab for `n` experiments where challenger and champion disagree most: the plan, the status
        AWAITING_TESTS and one audit row, in one transaction. The champion does not move."""
        from rexai_assets.planning.plan import PlanningError
        from rexai_assets.planning.store import insert_plan

        reviewer = check_reviewer(reviewer)
        if n < 1:
            raise PromotionError(f"--request-tests needs at least 1 experiment, got {n}")
        if self.planner is None:
            raise PromotionError("this desk has no planner; requesting tests needs the warehouse and the registry")
        with locked(self.lock_path):
            proposal = self.pending(proposal_id)
            current = self.registry.champion()
            with self.connect() as con, transaction(con):
                try:
                    plan = self.planner(con, proposal, n)
                except PlanningError as exc:
                    raise PromotionError(f"cannot plan tests for {proposal_id}: {exc}") from None
                insert_plan(con, plan)
                text = f"{len(plan.experiments)} tests requested: plan {plan.plan_id}" + (f"; {notes}" if notes else "")
                self._set_status(con, proposal, AWAITING_TESTS, reviewer, text)
                audit_id = append_audit(con, "request_tests", proposal.challenger_version, proposal_id, reviewer,
                                        text, current)
            write_proposal_json(self.json_folder, proposal)
            return DecisionOutcome(proposal, "request_tests", current, current, audit_id)

    def tests_arrived(self, share: float) -> list[Proposal]:
        """Proposals AWAITING_TESTS whose measured share of the requested experiments reached `share`, each
        audited once (`tests_arrived`) when first found: the loop re-evaluates their challenger."""
        from rexai_assets.planning.store import requested_progress, sync_measured

        with self.connect() as con:  # the sensor ticks every few seconds: write only when someone waits
            if not any(p.status == AWAITING_TESTS for p in fetch_proposals(con, limit=1000)):
                return []
        with locked(self.lock_path), self.connect() as con, transaction(con):
            sync_measured(con)
            progress = requested_progress(con)
            waiting = [p for p in fetch_proposals(con, limit=1000) if p.status == AWAITING_TESTS]
            ready = [p for p in waiting if p.proposal_id in progress
                     and progress[p.proposal_id][1] >= share * progress[p.proposal_id][0]]
            audited = set(audit_log(con).query("action == 'tests_arrived'")["proposal_id"])
            for proposal in ready:
                if proposal.proposal_id not in audited:
                    total, measured = progress[proposal.proposal_id]
                    append_audit(con, "tests_arrived", proposal.challenger_version, proposal.proposal_id,
                                 AUTO_REVIEWER, f"{measured} of {total} requested experiments measured",
                                 self.registry.champion())
        return ready

    def rollback(self, reviewer: str, notes: str | None = None) -> DecisionOutcome:
        reviewer = check_reviewer(reviewer)
        with locked(self.lock_path):
            current = self.registry.champion()
            if current is None:
                raise PromotionError("there is no champion to roll back")
            with self.connect() as con:
                log = audit_log(con)
            # The champion that preceded the promotion of the current one (a rollback walks history back,
            # it does not toggle between two versions).
            promotions = log[(log["model_version"] == current) & log["action"].isin(["approve", "auto_promote"])]
            if promotions.empty or promotions.iloc[-1]["previous_champion"] in (None, "") or pd.isna(promotions.iloc[-1]["previous_champion"]):
                raise PromotionError(f"champion v{current} has no previous champion to roll back to")
            previous = str(promotions.iloc[-1]["previous_champion"])
            self.registry.set_champion(previous, archive=current)
            try:
                with self.connect() as con:
                    audit_id = append_audit(con, "rollback_to", previous, None, reviewer, notes, current)
            except Exception:
                self.registry.set_champion(current, archive=None)
                raise
            proposal = Proposal(proposal_id="-", created_at=now_utc(), recommendation="-", confidence=1.0,
                                status="ROLLED_BACK", challenger_version=previous, champion_version=current,
                                baseline="champion", improvement=0.0, criteria=[], deltas={}, lineage={})
            return DecisionOutcome(proposal, "rollback_to", current, previous, audit_id)

    # -- internals (caller holds the lock) --

    @staticmethod
    def _set_status(con: Any, proposal: Proposal, status: str, reviewer: str, notes: str | None) -> None:
        con.execute("UPDATE registry.promotion_proposals SET status = ?, reviewer = ?, reviewed_at = ?, "
                    "review_notes = ? WHERE proposal_id = ?", [status, reviewer, now_utc(), notes, proposal.proposal_id])
        proposal.status, proposal.reviewer, proposal.review_notes = status, reviewer, notes
        proposal.reviewed_at = now_utc()

    def _promote(self, proposal: Proposal, reviewer: str, notes: str | None, action: str) -> DecisionOutcome:
        def record(previous: str | None) -> DecisionOutcome:
            with self.connect() as con, transaction(con):
                self._set_status(con, proposal, PROMOTED, reviewer, notes)
                audit_id = append_audit(con, action, proposal.challenger_version, proposal.proposal_id, reviewer,
                                        notes, previous)
            return DecisionOutcome(proposal, action, previous, proposal.challenger_version, audit_id)

        outcome = move_champion(self.registry, proposal.challenger_version, record)
        write_proposal_json(self.json_folder, proposal)
        return outcome

    def _decline(self, proposal: Proposal, reviewer: str, notes: str | None) -> DecisionOutcome:
        current = self.registry.champion()
        with self.connect() as con, transaction(con):
            self._set_status(con, proposal, DECLINED, reviewer, notes)
            audit_id = append_audit(con, "decline", proposal.challenger_version, proposal.proposal_id, reviewer,
                                    notes, current)
        write_proposal_json(self.json_folder, proposal)
        return DecisionOutcome(proposal, "decline", current, current, audit_id)


def build_desk(storage: Any, warehouse: Any, mlflow: Any) -> PromotionDesk:
    """A desk wired to a data root, a warehouse and an MLflow registry (the three resources)."""
    data = storage.layout
    from rexai_assets.planning.service import tests_planner

    registry = ChampionRegistry(mlflow.client(), promotion_settings())
    return PromotionDesk(warehouse.connect, registry, data.root / "registry.lock", data.models / "proposals",
                         planner=tests_planner(mlflow, data.raw))


def desk_from_resources(resources: dict[str, Any] | None = None) -> PromotionDesk:
    """A desk for the current environment (`REXAI_ENV`, `REXAI_DATA_ROOT`, `MLFLOW_TRACKING_URI`)."""
    from rexai_assets.resources import build_resources

    resources = resources or build_resources()
    return build_desk(resources["storage"], resources["warehouse"], resources["mlflow"])
