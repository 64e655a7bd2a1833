"""The habitat gate's own proposals and audit rows (warehouse schema `registry`), and the adapter aliases.

Kept apart from `registry.promotion_proposals` / `registry.approval_audit_log`: those describe the shared
champion (rollback walks them, the ledger derives champion periods from them), and adapter versions of
`rexai-habitat-<id>` are numbered independently of `rexai`'s. Rows are only ever inserted, except a
proposal's status when it is decided.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import pandas as pd

PENDING, PROMOTED, REJECTED, DECLINED = "PENDING_APPROVAL", "PROMOTED", "REJECTED", "DECLINED"
PREFIX = "HP-"   # a habitat proposal's id; the shared model's start with "PR-"

DDL = """
CREATE SCHEMA IF NOT EXISTS registry;
CREATE TABLE IF NOT EXISTS registry.habitat_proposals (
    proposal_id VARCHAR PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    habitat VARCHAR NOT NULL,
    registered_model VARCHAR NOT NULL,
    recommendation VARCHAR NOT NULL,
    confidence DOUBLE,
    status VARCHAR NOT NULL,
    adapter_version VARCHAR,
    base_model_version VARCHAR,
    base_model_hash VARCHAR,
    improvement DOUBLE,
    criteria VARCHAR,
    deltas VARCHAR,
    lineage VARCHAR,
    trigger VARCHAR,
    dagster_run_id VARCHAR
);
CREATE TABLE IF NOT EXISTS registry.habitat_audit_log (
    audit_id VARCHAR PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    habitat VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    adapter_version VARCHAR,
    proposal_id VARCHAR,
    reviewer VARCHAR NOT NULL,
    notes VARCHAR,
    previous_champion VARCHAR
);
"""
JSON_COLUMNS = ("criteria", "deltas", "lineage")


@dataclass
class HabitatProposal:
    proposal_id: str
    created_at: datetime
    habitat: str
    registered_model: str
    recommendation: str
    confidence: float
    status: str
    adapter_version: str
    base_model_version: str | None
    base_model_hash: str | None
    improvement: float
    criteria: list
    deltas: dict
    lineage: dict
    trigger: str | None = None
    dagster_run_id: str | None = None

    def first_failed(self) -> str | None:
        failed = [c["detail"] for c in self.criteria if not c["passed"]]
        return None if not failed else failed[0] + (f" (+{len(failed) - 1} more)" if len(failed) > 1 else "")

    def summary(self) -> str:
        failed = self.first_failed()
        return (f"{self.proposal_id} {self.recommendation:7} {self.status:16} adapter v{self.adapter_version} of "
                f"{self.registered_model} on shared v{self.base_model_version or '-'} confidence "
                f"{self.confidence:.2f}{f'; failed: {failed}' if failed else ''}")


def is_habitat_proposal(proposal_id: str) -> bool:
    return str(proposal_id).startswith(PREFIX)


def new_proposal_id(habitat: str, version: str) -> str:
    from rexai_assets.evaluation.promotion import now_utc

    return f"{PREFIX}{habitat}-{now_utc():%Y%m%d%H%M%S}-v{version}-{uuid.uuid4().hex[:6]}"


def ensure_tables(con: Any) -> None:
    con.execute(DDL)


def insert_proposal(con: Any, proposal: HabitatProposal) -> None:
    ensure_tables(con)
    record = {k: (json.dumps(v, sort_keys=True, default=str) if k in JSON_COLUMNS else v)
              for k, v in asdict(proposal).items()}
    con.execute(f"INSERT INTO registry.habitat_proposals ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})",
                list(record.values()))


def append_audit(con: Any, habitat: str, action: str, version: str | None, proposal_id: str | None, reviewer: str,
                 notes: str | None, previous: str | None) -> str:
    from rexai_assets.evaluation.promotion import now_utc

    ensure_tables(con)
    audit_id = uuid.uuid4().hex
    con.execute("INSERT INTO registry.habitat_audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [audit_id, now_utc(), habitat, action, version, proposal_id, reviewer, notes, previous])
    return audit_id


def habitat_proposals(con: Any, habitat: str | None = None) -> pd.DataFrame:
    ensure_tables(con)
    where, params = ("WHERE habitat = ?", [habitat]) if habitat else ("", [])
    return con.execute(f"SELECT * FROM registry.habitat_proposals {where} ORDER BY created_at, proposal_id",
                       params).fetch_df()


def fetch_habitat_proposals(con: Any, proposal_id: str | None = None) -> list[HabitatProposal]:
    """Stored proposals as `HabitatProposal`s, newest first (only `proposal_id`'s when given)."""
    ensure_tables(con)
    where, params = ("WHERE proposal_id = ?", [proposal_id]) if proposal_id else ("", [])
    frame = con.execute(f"SELECT * FROM registry.habitat_proposals {where} ORDER BY created_at DESC, proposal_id DESC",
                        params).fetch_df()
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [HabitatProposal(**{**row, **{k: json.loads(row[k]) if row[k] else ([] if k == "criteria" else {})
                                         for k in JSON_COLUMNS}}) for row in rows]


def set_status(con: Any, proposal: HabitatProposal, status: str) -> None:
    """A proposal's decision: the one column ever updated (who and why is in its audit row)."""
    con.execute("UPDATE registry.habitat_proposals SET status = ? WHERE proposal_id = ?", [status, proposal.proposal_id])
    proposal.status = status


def habitat_audit(con: Any, habitat: str | None = None) -> pd.DataFrame:
    ensure_tables(con)
    where, params = ("WHERE habitat = ?", [habitat]) if habitat else ("", [])
    return con.execute(f"SELECT * FROM registry.habitat_audit_log {where} ORDER BY created_at, audit_id",
                       params).fetch_df()
