"""The observations tables in the DuckDB warehouse, and the idempotent per-partition write.

Tables (schema `observations`):
- `measurements`: exactly CONTRACTS.md (observation_id primary key; labelled rows only).
- `experiment_runs` / `crew_feedback`: the full scrubbed records (operator_id is the pseudonym),
  with `content_sha256`, `partition_key`, `source_file`, `source_sha256`, `source_row`, `ingested_at`.

`replace_partition` rewrites the rows that came from the files being ingested (scope =
partition key + those file names) in one transaction:
- an id already stored from outside the scope with the same content is skipped (counted);
- an id already stored from outside the scope with different content is a conflict: the incoming
  row is returned as rejected and the stored row stays untouched (first come, first kept);
- rows of the scope whose content did not change keep their `ingested_at`, so re-ingesting a
  partition leaves every table byte-for-byte as it was.
Rows that came from files no longer in the inbox (moved, quarantined) are never deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from rexai_assets.observations.records import TARGETS, RecordKind, measurement_rows
from rexai_assets.warehouse import transaction

SCHEMA = "observations"
TARGET_DDL = ",\n  ".join(f"{t} DOUBLE" for t in TARGETS)
PROVENANCE_DDL = """content_sha256 VARCHAR NOT NULL,
  partition_key VARCHAR NOT NULL,
  source_file VARCHAR NOT NULL,
  source_sha256 VARCHAR NOT NULL,
  source_row INTEGER,
  ingested_at TIMESTAMP NOT NULL"""

DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.measurements (
  observation_id VARCHAR PRIMARY KEY,
  kind VARCHAR NOT NULL,
  recipe_id VARCHAR,
  recipe_spec VARCHAR,
  process_id VARCHAR,
  label_source VARCHAR,
  observed_at TIMESTAMP,
  {TARGET_DDL},
  partition_key VARCHAR,
  source_file VARCHAR,
  source_sha256 VARCHAR,
  ingested_at TIMESTAMP)""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.experiment_runs (
  experiment_id VARCHAR PRIMARY KEY,
  recipe_id VARCHAR NOT NULL,
  process_id VARCHAR NOT NULL,
  recipe_spec VARCHAR NOT NULL,
  environment VARCHAR NOT NULL,
  operator_id VARCHAR,
  started_at TIMESTAMP NOT NULL,
  finished_at TIMESTAMP NOT NULL,
  raw_measurements VARCHAR,
  {TARGET_DDL},
  verdict VARCHAR NOT NULL,
  next_actions VARCHAR,
  habitat VARCHAR,
  {PROVENANCE_DDL})""",
    # Warehouses made before experiment records had a habitat (the column arrives at the table's end).
    f"ALTER TABLE {SCHEMA}.experiment_runs ADD COLUMN IF NOT EXISTS habitat VARCHAR",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.crew_feedback (
  feedback_id VARCHAR PRIMARY KEY,
  recipe_id VARCHAR NOT NULL,
  process_id VARCHAR NOT NULL,
  recipe_spec VARCHAR NOT NULL,
  habitat VARCHAR,
  operator_id VARCHAR,
  submitted_at TIMESTAMP NOT NULL,
  {TARGET_DDL},
  rating INTEGER,
  notes VARCHAR,
  {PROVENANCE_DDL})""",
)

MEASUREMENT_COLUMNS = ("observation_id", "kind", "recipe_id", "recipe_spec", "process_id", "label_source",
                       "observed_at", *TARGETS, "partition_key", "source_file", "source_sha256", "ingested_at")
PROVENANCE_COLUMNS = ("content_sha256", "partition_key", "source_file", "source_sha256", "source_row", "ingested_at")
RECORD_COLUMNS = {
    "experiment": ("experiment_id", "recipe_id", "process_id", "recipe_spec", "environment", "operator_id",
                   "started_at", "finished_at", "raw_measurements", *TARGETS, "verdict", "next_actions", "habitat",
                   *PROVENANCE_COLUMNS),
    "feedback": ("feedback_id", "recipe_id", "process_id", "recipe_spec", "habitat", "operator_id", "submitted_at",
                 *TARGETS, "rating", "notes", *PROVENANCE_COLUMNS),
}
TABLES = {"experiment": f"{SCHEMA}.experiment_runs", "feedback": f"{SCHEMA}.crew_feedback"}
# Columns that are system-made hashes / keys / canonical JSON; every other VARCHAR column is text a person wrote.
FREE_TEXT_COLUMNS = {"experiment_runs": ("next_actions", "raw_measurements"), "crew_feedback": ("notes",)}
# Columns that hold habitat ids validated against config/habitats.yaml: not personal data, so they are
# checked to hold nothing but known ids instead of being searched for names.
HABITAT_COLUMNS = {"experiment_runs": ("habitat",), "crew_feedback": ("habitat",)}


def ensure_tables(con: Any) -> None:
    for statement in DDL:
        con.execute(statement)


@dataclass
class Conflict:
    """An incoming row whose id is stored elsewhere with different content."""

    record_id: str
    source_file: str
    source_row: int
    existing_partition: str
    existing_file: str
    existing_kind: str


@dataclass
class ReplaceOutcome:
    written: int = 0
    measurements: int = 0
    identical_elsewhere: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    removed: int = 0  # rows of the scope that the files no longer contain
    rows: pd.DataFrame | None = None  # what the scope holds now


def _naive_utc(series: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(series, utc=True)
    return stamps.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")


def replace_partition(con: Any, kind: RecordKind, partition_key: str, files: dict[str, str],
                      prepared: pd.DataFrame, ingested_at: datetime) -> ReplaceOutcome:
    """Replace the rows of (partition_key, files) by `prepared` (see the module doc).

    `files` maps each ingested file name to its sha256; `prepared` has the record columns plus
    `content_sha256`, `source_file`, `source_row` (from `records.prepare_for_warehouse`).
    """
    ensure_tables(con)
    table, id_column = TABLES[kind.name], kind.id_column
    names = sorted(files)
    outcome = ReplaceOutcome()
    with transaction(con):
        scope = "partition_key = ? AND list_contains(?, source_file)"
        before = con.execute(f"SELECT {id_column}, content_sha256, ingested_at FROM {table} WHERE {scope}",
                             [partition_key, names]).df()
        ids = prepared[id_column].astype(str).tolist()
        elsewhere = con.execute(
            f"SELECT {id_column} AS id, content_sha256, partition_key, source_file FROM {table} "
            f"WHERE list_contains(?, {id_column}) AND NOT ({scope})", [ids, partition_key, names]).df()
        other_kind = con.execute(
            "SELECT observation_id AS id, kind, partition_key, source_file FROM observations.measurements "
            "WHERE list_contains(?, observation_id) AND kind <> ?", [ids, kind.name]).df()
        stored = {r.id: r for r in elsewhere.itertuples(index=False)}
        foreign = {r.id: r for r in other_kind.itertuples(index=False)}

        keep = []
        for index, row in prepared.iterrows():
            record_id = row[id_column]
            hit = stored.get(record_id)
            if hit is not None and hit.content_sha256 == row["content_sha256"]:
                outcome.identical_elsewhere += 1
                continue
            clash = hit if hit is not None else foreign.get(record_id)
            if clash is not None:
                outcome.conflicts.append(Conflict(record_id, row["source_file"], int(row["source_row"]),
                                                  clash.partition_key, clash.source_file,
                                                  getattr(clash, "kind", kind.name)))
                continue
            keep.append(index)
        rows = prepared.loc[keep].copy()
        # Unchanged rows keep their first ingestion time: re-ingesting changes nothing.
        first_seen = {r[0]: r[2] for r in before.itertuples(index=False, name=None)}
        same = {r[0] for r in before.itertuples(index=False, name=None)}
        previous_hash = dict(zip(before[id_column], before["content_sha256"]))
        rows["ingested_at"] = [first_seen[i] if i in same and previous_hash[i] == h else pd.Timestamp(ingested_at)
                               for i, h in zip(rows[id_column], rows["content_sha256"])]
        rows["partition_key"] = partition_key
        rows["source_sha256"] = [files[name] for name in rows["source_file"]]
        outcome.removed = len(set(before[id_column]) - set(rows[id_column]))

        con.execute(f"DELETE FROM {table} WHERE {scope}", [partition_key, names])
        con.execute(f"DELETE FROM {SCHEMA}.measurements WHERE kind = ? AND {scope}", [kind.name, partition_key, names])
        outcome.written = _insert(con, table, _table_frame(rows, RECORD_COLUMNS[kind.name]))
        measured = measurement_rows(rows, kind)
        for column in ("partition_key", "source_file", "source_sha256", "ingested_at"):
            measured[column] = rows.loc[rows[list(TARGETS)].notna().any(axis=1), column].to_numpy() if len(rows) else []
        outcome.measurements = _insert(con, f"{SCHEMA}.measurements", _table_frame(measured, MEASUREMENT_COLUMNS))
    outcome.rows = rows
    return outcome


def _table_frame(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    out = frame.loc[:, list(columns)].copy()
    for column in out.columns:
        if column in ("started_at", "finished_at", "submitted_at", "observed_at", "ingested_at"):
            out[column] = _naive_utc(out[column])
    return out.reset_index(drop=True)


def _insert(con: Any, table: str, frame: pd.DataFrame) -> int:
    if frame.empty:
        return 0
    columns = ", ".join(frame.columns)
    con.register("_incoming", frame)
    try:
        con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _incoming")
    finally:
        con.unregister("_incoming")
    return len(frame)


def partition_fingerprint(con: Any, kind: RecordKind, partition_key: str) -> tuple[int, str]:
    """(rows, sha256 over sorted id + content hash) of one partition: the asset's data version."""
    from rexai_assets.hashing import sha256_json

    ensure_tables(con)
    rows = con.execute(f"SELECT {kind.id_column}, content_sha256 FROM {TABLES[kind.name]} "
                       f"WHERE partition_key = ? ORDER BY 1", [partition_key]).fetchall()
    return len(rows), sha256_json([list(r) for r in rows])


def text_columns(con: Any) -> dict[str, list[str]]:
    """VARCHAR columns of every observations table: table -> columns."""
    ensure_tables(con)
    found: dict[str, list[str]] = {}
    for table, column in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND data_type = 'VARCHAR' ORDER BY table_name, ordinal_position",
            [SCHEMA]).fetchall():
        found.setdefault(table, []).append(column)
    return found


def count_rows(con: Any) -> dict[str, int]:
    ensure_tables(con)
    return {name: con.execute(f"SELECT count(*) FROM {SCHEMA}.{name}").fetchone()[0]
            for name in ("experiment_runs", "crew_feedback", "measurements")}



@dataclass(frozen=True)
class PiiColumnFinding:
    table: str
    column: str
    kind: str
    rows: int


def find_warehouse_pii(con: Any, scrubber: Any = None) -> list[PiiColumnFinding]:
    """E-mails, phone numbers or blocklisted names stored in any text column of the observations tables.

    Free-text columns are searched for all three kinds; identifiers, hashes, file names and canonical
    recipe JSON for e-mails and names only (structured ids such as EXP-2024-0001-0002 look like phone
    numbers to any phone detector); habitat columns must hold known habitat ids only (kind
    `not a habitat id`). The matched text itself is never returned.
    """
    from rexai_assets.habitat_config import known_habitats
    from rexai_assets.observations.pii import ALL_KINDS, find_pii

    findings: list[PiiColumnFinding] = []
    for table, columns in text_columns(con).items():
        for column in columns:
            kinds = ALL_KINDS if column in FREE_TEXT_COLUMNS.get(table, ()) else ("email", "name")
            values = [v for (v,) in con.execute(
                f"SELECT DISTINCT {column} FROM {SCHEMA}.{table} WHERE {column} IS NOT NULL").fetchall()]
            if column in HABITAT_COLUMNS.get(table, ()):
                unknown = [v for v in values if v not in known_habitats()]
                if unknown:
                    findings.append(PiiColumnFinding(table, column, "not a habitat id", len(unknown)))
                continue
            hits = find_pii(values, kinds, scrubber)
            for kind in sorted({h.kind for h in hits}):
                findings.append(PiiColumnFinding(table, column, kind, len({h.index for h in hits if h.kind == kind})))
    return findings


def contract_violations(con: Any, kind: str) -> list[str]:
    """Rows of `observations.measurements` (of one kind) that break CONTRACTS.md, as one-line reasons."""
    ensure_tables(con)
    unit = " OR ".join(f"{t} < 0 OR {t} > 1" for t in ("rigidity", "tightness"))
    positive = " OR ".join(f"{t} < 0" for t in TARGETS if t not in ("rigidity", "tightness"))
    unlabelled = " AND ".join(f"{t} IS NULL" for t in TARGETS)
    rules = {
        "target out of range": f"{unit} OR {positive}",
        "no measured target": unlabelled,
        "missing recipe, process, label_source or observed_at":
            "recipe_id IS NULL OR recipe_spec IS NULL OR process_id IS NULL OR label_source IS NULL "
            "OR observed_at IS NULL",
    }
    problems = []
    for reason, condition in rules.items():
        count = con.execute(f"SELECT count(*) FROM {SCHEMA}.measurements WHERE kind = ? AND ({condition})",
                            [kind]).fetchone()[0]
        if count:
            problems.append(f"{count} {kind} measurement row(s): {reason}")
    return problems
