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

PENDING, PROMOTED, REJECTED = "PENDING_APPROVAL", "PROMOTED", "REJECTED"

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


def new_proposal_id(habitat: str, version: str) -> str:
    from rexai_assets.evaluation.promotion import now_utc

    return f"HP-{habitat}-{now_utc():%Y%m%d%H%M%S}-v{version}-{uuid.uuid4().hex[:6]}"


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


def habitat_audit(con: Any, habitat: str | None = None) -> pd.DataFrame:
    ensure_tables(con)
    where, params = ("WHERE habitat = ?", [habitat]) if habitat else ("", [])
    return con.execute(f"SELECT * FROM registry.habitat_audit_log {where} ORDER BY created_at, audit_id",
                       params).fetch_df()
