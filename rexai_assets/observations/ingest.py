"""Ingest one partition: read its inbox files, validate, scrub, write the warehouse, log rejections.

Plain functions (no Dagster): the assets call `ingest_experiment_day` / `ingest_feedback_file`.
Nothing is lost: unreadable files go to quarantine, rejected rows to `logs/ingestion.errors.jsonl`
(a rejection already logged for the same file, row, column and reason is not logged again, so
re-ingesting leaves the log as it was too), valid rows of the same file are kept.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterable

import pandas as pd

from rexai_assets.ingestion_log import RejectedRow, append_rejections, read_rejections
from rexai_assets.observations import inbox, pii, records
from rexai_assets.observations.records import EXPERIMENT, FEEDBACK, LAYER, RecordKind
from rexai_assets.observations.warehouse_io import partition_fingerprint, replace_partition
from rexai_assets.paths import DataLayout
from rexai_assets.recipes import RecipeCatalog

Connect = Callable[[], ContextManager[Any]]


@dataclass
class IngestReport:
    kind: str
    partition_key: str
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    total_rows: int = 0
    rows_in_partition: int = 0
    written: int = 0
    measurements: int = 0
    rejected_rows: int = 0
    duplicates_identical: int = 0
    conflicts: int = 0
    off_day_rows: int = 0
    quarantined: list[str] = field(default_factory=list)
    inference_entries: int = 0  # rows of the inference log compacted into the warehouse by this run
    rejections: list[RejectedRow] = field(default_factory=list)
    data_version: str = ""

    def summary(self) -> dict[str, Any]:
        """Small, picklable: what the asset returns."""
        return {
            "kind": self.kind, "partition_key": self.partition_key, "files": dict(self.files),
            "total_rows": self.total_rows, "rows_in_partition": self.rows_in_partition, "written": self.written,
            "measurements": self.measurements, "rejected_rows": self.rejected_rows,
            "duplicates_identical": self.duplicates_identical, "conflicts": self.conflicts,
            "off_day_rows": self.off_day_rows, "quarantined": list(self.quarantined),
            "data_version": self.data_version,
        }


def append_new_rejections(log_path: Path, rows: Iterable[RejectedRow]) -> int:
    """Append the rejections the log does not hold yet (same file, row, column and reason)."""
    rows = list(rows)
    if not rows:
        return 0
    seen = {(r.get("layer"), r.get("source_file"), r.get("line"), r.get("column"), r.get("reason"))
            for r in read_rejections(log_path)}
    fresh = [r for r in rows if (r.layer, r.source_file, r.line, r.column, r.reason) not in seen]
    return append_rejections(log_path, fresh)


def _scrubbed(row: RejectedRow, scrubber: pii.PiiScrubber) -> RejectedRow:
    # The error log is not the warehouse, but it must not become a copy of the personal data either.
    value = scrubber.scrub(row.value) if isinstance(row.value, str) else row.value
    return RejectedRow(row.source_file, row.line, row.column, value, scrubber.scrub(row.reason), row.run_id,
                       row.layer, row.logged_at)


def _read_partition_files(kind: RecordKind, partition_key: str, paths: list[Path], layout: DataLayout,
                          catalog: RecipeCatalog | None, run_id: str | None, now: datetime, scrubber: pii.PiiScrubber,
                          report: IngestReport) -> list[pd.DataFrame]:
    """Read, validate and prepare each file (unreadable ones go to quarantine); counts go into `report`."""
    key = pii.pii_key(layout.secrets)
    prepared_frames = []
    for path in sorted(paths):
        source = inbox.relative_name(path, layout)
        try:
            frame, sha = inbox.read_inbox_file(path, kind, source)
        except FileNotFoundError:
            continue  # moved away since the partition was listed
        except inbox.UnreadableFile as exc:
            moved = inbox.quarantine_file(path, str(exc).split(": ", 1)[-1], layout, run_id)
            if moved:
                report.quarantined.append(path.name)
            continue
        result = records.validate_records(frame, kind, catalog, source, run_id=run_id, now=now, scrubber=scrubber)
        report.files[path.name] = sha
        report.total_rows += result.total_rows
        report.duplicates_identical += result.duplicates_identical
        report.rejections += result.rejected
        prepared = records.prepare_for_warehouse(result.records, kind, key, scrubber)
        prepared["source_file"] = path.name
        prepared_frames.append(prepared)
        if kind is EXPERIMENT and len(prepared):
            day = pd.Timestamp(partition_key).strftime("%Y-%m-%d")
            report.off_day_rows += int((prepared["finished_at"].dt.strftime("%Y-%m-%d") != day).sum())
    return prepared_frames


def ingest_partition(kind: RecordKind, partition_key: str, paths: list[Path], layout: DataLayout, connect: Connect,
                     catalog: RecipeCatalog | None, run_id: str | None = None,
                     now: datetime | None = None) -> IngestReport:
    """Ingest `paths` (the partition's files) into the warehouse; see the module doc."""
    now = now or datetime.now(timezone.utc)
    scrubber = pii.default_scrubber()
    report = IngestReport(kind.name, partition_key)
    prepared_frames = _read_partition_files(kind, partition_key, paths, layout, catalog, run_id, now, scrubber, report)

    if not report.files:
        report.rejections = [_scrubbed(r, scrubber) for r in report.rejections]
        append_new_rejections(layout.ingestion_errors, report.rejections)
        with connect() as con:
            report.rows_in_partition, report.data_version = partition_fingerprint(con, kind, partition_key)
            report.inference_entries = after_ingestion(con, layout, snapshot=False)
        return report

    combined = pd.concat(prepared_frames, ignore_index=True)
    combined, identical, conflicts = records.deduplicate(combined, kind.id_column, "content_sha256")
    report.duplicates_identical += identical
    for row, first in conflicts:
        report.rejections.append(RejectedRow(
            _inbox_path(layout, kind, row["source_file"]), int(row["source_row"]), kind.id_column, row[kind.id_column],
            f"duplicate {kind.id_column} {row[kind.id_column]!r} with different content "
            f"(first in {first['source_file']} row {first['source_row']})", run_id, LAYER))
    with connect() as con:
        outcome = replace_partition(con, kind, partition_key, report.files, combined, now)
        report.rows_in_partition, report.data_version = partition_fingerprint(con, kind, partition_key)
        report.inference_entries = after_ingestion(con, layout, snapshot=True)
    for clash in outcome.conflicts:
        where = "" if clash.existing_kind == kind.name else f"{clash.existing_kind} "
        report.rejections.append(RejectedRow(
            _inbox_path(layout, kind, clash.source_file), clash.source_row, kind.id_column, clash.record_id,
            f"{kind.id_column} {clash.record_id!r} is already stored from {where}partition "
            f"{clash.existing_partition} ({clash.existing_file}) with different content; the stored row is kept",
            run_id, LAYER))
    report.written = outcome.written
    report.measurements = outcome.measurements
    report.duplicates_identical += outcome.identical_elsewhere
    report.conflicts = len(conflicts) + len(outcome.conflicts)
    report.rejections = [_scrubbed(r, scrubber) for r in report.rejections]
    report.rejected_rows = len({(r.source_file, r.line) for r in report.rejections if r.line is not None})
    append_new_rejections(layout.ingestion_errors, report.rejections)
    return report


def after_ingestion(con: Any, layout: DataLayout, snapshot: bool) -> int:
    """What every ingestion run does besides its partition: compact the inference log into the warehouse
    (returns the rows added) and, when observations changed, rewrite the measured-results snapshot."""
    from rexai_assets import inference_log
    from rexai_assets.observations.measured import write_snapshot

    added = inference_log.compact(con, layout.inference_log, layout.quarantine)
    if snapshot:
        write_snapshot(con, layout.measured_snapshot)
    return added


def _inbox_path(layout: DataLayout, kind: RecordKind, name: str) -> str:
    folder = layout.experiments_inbox if kind is EXPERIMENT else layout.feedback_inbox
    return inbox.relative_name(folder / name, layout)


def ingest_experiment_day(layout: DataLayout, partition_key: str, connect: Connect, catalog: RecipeCatalog | None,
                          run_id: str | None = None, now: datetime | None = None) -> IngestReport:
    """The daily partition `partition_key` (YYYY-MM-DD): every experiments_YYYYMMDD*.parquet of that day."""
    return ingest_partition(EXPERIMENT, partition_key, inbox.experiment_files_for_day(layout, partition_key),
                            layout, connect, catalog, run_id, now)


def ingest_feedback_file(layout: DataLayout, partition_key: str, connect: Connect, catalog: RecipeCatalog | None,
                         run_id: str | None = None, now: datetime | None = None) -> IngestReport:
    """The dynamic partition `partition_key` = a feedback file name in inbox/feedback/."""
    path = inbox.feedback_file_for_key(layout, partition_key)
    return ingest_partition(FEEDBACK, partition_key, [path] if path.exists() else [], layout, connect, catalog,
                            run_id, now)


def duckdb_connect(database: str | Path) -> Connect:
    """A `connect` for plain use (tests, scripts) when no Warehouse resource is at hand."""
    import duckdb

    def connect() -> ContextManager[Any]:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        return contextlib.closing(duckdb.connect(str(database)))

    return connect
