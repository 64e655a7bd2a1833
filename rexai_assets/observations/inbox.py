"""The inbox: which files are waiting, quarantine for unreadable ones, and atomic writers.

Naming (DESIGN.md):
- `inbox/experiments/experiments_YYYYMMDD[_suffix].parquet` belongs to the daily partition
  `YYYY-MM-DD` (UTC day); every file whose name starts with that date is part of it.
- `inbox/feedback/feedback_*.parquet` is one dynamic partition of `feedback_files`; the partition
  key is the file NAME (e.g. `feedback_20240501T101500123456Z_1a2b3c4d.parquet`).

`scan_inbox(layout)` is what a sensor calls: it lists the experiment days and feedback files with
their content hashes and moves every file that cannot be read at all (not parquet, truncated,
missing a required column, a name no partition can hold) to `quarantine/`, whole, with a line in
`logs/ingestion.errors.jsonl`. Quarantine never deletes anything and never raises for a file that
someone else moved first.

Writers never append: each call creates a new uniquely named file through a temporary file in
the same directory and one rename (`rexai_assets.atomic.write_with`), so a reader never sees a
half-written file and concurrent writers never collide. The temporary names start with a dot
and end in `.tmp`, so no inbox glob matches them.
"""

from __future__ import annotations

import io
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

from rexai_assets.hashing import sha256_bytes
from rexai_assets.ingestion_log import RejectedRow, append_rejections
from rexai_assets.observations.records import (EXPERIMENT, EXPERIMENTS_START_DATE, FEEDBACK, LAYER, RecordFormatError,
                                               RecordKind, check_columns, inbox_frame, measured_row_count)
from rexai_assets.paths import DataLayout

EXPERIMENT_FILE_RE = re.compile(r"^experiments_(\d{4})(\d{2})(\d{2}).*\.parquet$")
EXPERIMENT_GLOB = "experiments_*.parquet"
FEEDBACK_GLOB = "feedback_*.parquet"
INVALID_KEY_SUBSTRINGS = ("...", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0")  # Dagster's partition-key rule


class UnreadableFile(ValueError):
    """An inbox file that cannot be read at all; the message is the reason."""


@dataclass(frozen=True)
class InboxFile:
    kind: str  # 'experiment' | 'feedback'
    path: Path
    partition_key: str
    sha256: str
    rows: int
    labelled: int = 0  # rows with at least one measured target: what the retrain policy counts once ingested

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class QuarantinedFile:
    source: str  # path relative to the data root, where it was
    destination: Path
    reason: str


@dataclass
class InboxScan:
    """What is waiting in the inbox right now."""

    experiment_days: dict[str, tuple[InboxFile, ...]] = field(default_factory=dict)  # 'YYYY-MM-DD' -> files
    feedback_files: tuple[InboxFile, ...] = ()
    quarantined: tuple[QuarantinedFile, ...] = ()

    @property
    def feedback_keys(self) -> list[str]:
        return [f.partition_key for f in self.feedback_files]

    def files(self) -> list[InboxFile]:
        return [f for files in self.experiment_days.values() for f in files] + list(self.feedback_files)

    def cursor(self) -> dict[str, str]:
        """file name -> sha256 of every readable file: store it (e.g. as a sensor cursor) and pass it back as `known`."""
        return {f.name: f.sha256 for f in self.files()}

    def new_experiment_days(self, known: Mapping[str, str] | None = None) -> list[str]:
        """Days with a file that is not in `known` or whose content changed since."""
        known = known or {}
        return sorted(day for day, files in self.experiment_days.items()
                      if any(known.get(f.name) != f.sha256 for f in files))

    def new_feedback_keys(self, known: Mapping[str, str] | None = None) -> list[str]:
        known = known or {}
        return [f.partition_key for f in self.feedback_files if known.get(f.name) != f.sha256]


# ---------------------------------------------------------------------------------------------
# Reading


def relative_name(path: Path, layout: DataLayout) -> str:
    try:
        return str(path.resolve().relative_to(layout.root.resolve()))
    except ValueError:
        return str(path)


def read_records_bytes(data: bytes, kind: RecordKind, source_file: str) -> pd.DataFrame:
    """A parquet file's records; UnreadableFile if it is not parquet, truncated or lacks a required column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UnreadableFile(f"{source_file}: not a readable parquet file ({str(exc).splitlines()[0][:200]})") from None
    try:
        frame = table.to_pandas()
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise UnreadableFile(f"{source_file}: cannot convert to records ({exc})") from None
    try:
        check_columns(frame, kind, source_file)
    except RecordFormatError as exc:
        raise UnreadableFile(str(exc)) from None
    return frame


def read_inbox_file(path: Path, kind: RecordKind, source_file: str | None = None) -> tuple[pd.DataFrame, str]:
    """(records, sha256 of the bytes read); the frame and the hash always describe the same bytes."""
    source_file = source_file or path.name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UnreadableFile(f"{source_file}: cannot read ({exc.strerror or exc})") from None
    return read_records_bytes(data, kind, source_file), sha256_bytes(data)


# ---------------------------------------------------------------------------------------------
# Quarantine


def quarantine_file(path: Path, reason: str, layout: DataLayout, run_id: str | None = None) -> QuarantinedFile | None:
    """Move `path` whole into quarantine/ (never overwriting, never deleting) and log why.

    Returns None when the file is already gone (another process quarantined or ingested it first).
    """
    layout.quarantine.mkdir(parents=True, exist_ok=True)
    source = relative_name(path, layout)
    destination = layout.quarantine / path.name
    if destination.exists():
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        destination = layout.quarantine / f"{path.stem}.{stamp}-{uuid.uuid4().hex[:6]}{path.suffix}"
    try:
        os.rename(path, destination)  # same file system: one atomic move, the bytes are untouched
    except FileNotFoundError:
        return None
    moved_to = relative_name(destination, layout)
    append_rejections(layout.ingestion_errors, [RejectedRow(
        source, None, None, moved_to, f"file moved to {moved_to}: {reason}", run_id, LAYER)])
    return QuarantinedFile(source, destination, reason)


# ---------------------------------------------------------------------------------------------
# Partitions


def day_of_file(name: str) -> date | None:
    match = EXPERIMENT_FILE_RE.match(name)
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def partition_key_of_day(day: date) -> str:
    return day.isoformat()


def experiment_files_for_day(layout: DataLayout, partition_key: str) -> list[Path]:
    """Every `experiments_YYYYMMDD*.parquet` of the day `partition_key` (YYYY-MM-DD), sorted by name."""
    stamp = date.fromisoformat(partition_key).strftime("%Y%m%d")
    return sorted(layout.experiments_inbox.glob(f"experiments_{stamp}*.parquet"))


def feedback_file_for_key(layout: DataLayout, partition_key: str) -> Path:
    if "/" in partition_key or partition_key.startswith("."):
        raise ValueError(f"feedback partition key {partition_key!r} is not a file name")
    return layout.feedback_inbox / partition_key


def last_partition_day(now: datetime | None = None) -> date:
    """Today (UTC): the experiment partitions run up to and including the current day."""
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).date()


def _experiment_name_problem(name: str, now: datetime | None) -> str | None:
    day = day_of_file(name)
    if day is None:
        return "file name does not start with experiments_YYYYMMDD (a valid date)"
    if day < date.fromisoformat(EXPERIMENTS_START_DATE):
        return f"day {day} is before the first experiment partition {EXPERIMENTS_START_DATE}"
    if day > last_partition_day(now) + timedelta(days=1):
        return f"day {day} lies in the future"
    return None


def scan_inbox(layout: DataLayout, run_id: str | None = None, now: datetime | None = None,
               quarantine: bool = True) -> InboxScan:
    """List the readable inbox files by partition; quarantine the unreadable ones (see module doc).

    A file dated tomorrow (UTC) is left waiting: its partition does not exist yet. With
    `quarantine=False` unreadable files are only skipped (a dry run).
    """
    days: dict[str, list[InboxFile]] = {}
    feedback: list[InboxFile] = []
    quarantined: list[QuarantinedFile] = []

    def reject(path: Path, reason: str) -> None:
        if quarantine:
            moved = quarantine_file(path, reason, layout, run_id)
            if moved:
                quarantined.append(moved)

    today = last_partition_day(now)
    for path in sorted(layout.experiments_inbox.glob(EXPERIMENT_GLOB)) if layout.experiments_inbox.exists() else []:
        problem = _experiment_name_problem(path.name, now)
        if problem:
            reject(path, problem)
            continue
        day = day_of_file(path.name)
        if day is not None and day > today:
            continue
        entry = _read_entry(path, EXPERIMENT, partition_key_of_day(day), layout, reject)
        if entry:
            days.setdefault(entry.partition_key, []).append(entry)
    for path in sorted(layout.feedback_inbox.glob(FEEDBACK_GLOB)) if layout.feedback_inbox.exists() else []:
        if any(bad in path.name for bad in INVALID_KEY_SUBSTRINGS):
            reject(path, "file name cannot be a partition key")
            continue
        entry = _read_entry(path, FEEDBACK, path.name, layout, reject)
        if entry:
            feedback.append(entry)
    return InboxScan({day: tuple(files) for day, files in sorted(days.items())}, tuple(feedback), tuple(quarantined))


def _read_entry(path: Path, kind: RecordKind, key: str, layout: DataLayout, reject) -> InboxFile | None:
    try:
        frame, sha = read_inbox_file(path, kind, relative_name(path, layout))
    except FileNotFoundError:
        return None  # moved away between listing and reading
    except UnreadableFile as exc:
        reject(path, str(exc).split(": ", 1)[-1])
        return None
    return InboxFile(kind.name, path, key, sha, len(frame), measured_row_count(frame, kind))


# ---------------------------------------------------------------------------------------------
# Atomic writers (the CLI)


def unique_suffix(now: datetime | None = None) -> str:
    """Time, process id and randomness: unique across processes and machines sharing the inbox."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{now.strftime('%H%M%S%f')}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def _write_parquet(frame: pd.DataFrame, target: Path) -> Path:
    from rexai_assets.atomic import write_with

    if target.exists():  # a uuid collision: refuse rather than replace someone's file
        raise FileExistsError(target)
    return write_with(target, lambda tmp: frame.to_parquet(tmp, index=False))


def write_experiment_files(records: pd.DataFrame, layout: DataLayout, now: datetime | None = None) -> list[Path]:
    """Validated experiment records -> one new `experiments_YYYYMMDD_<unique>.parquet` per finished_at day."""
    frame = inbox_frame(records, EXPERIMENT)
    layout.experiments_inbox.mkdir(parents=True, exist_ok=True)
    days = frame["finished_at"].dt.tz_convert("UTC").dt.strftime("%Y%m%d")
    written = []
    for day in sorted(days.unique()):
        target = layout.experiments_inbox / f"experiments_{day}_{unique_suffix(now)}.parquet"
        written.append(_write_parquet(frame[days == day].reset_index(drop=True), target))
    return written


def write_feedback_file(records: pd.DataFrame, layout: DataLayout, now: datetime | None = None) -> Path:
    """Validated feedback records -> one new `feedback_<UTC timestamp>_<unique>.parquet`."""
    frame = inbox_frame(records, FEEDBACK)
    layout.feedback_inbox.mkdir(parents=True, exist_ok=True)
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    target = layout.feedback_inbox / f"feedback_{now.strftime('%Y%m%dT%H%M%S%fZ')}_{os.getpid()}_{uuid.uuid4().hex[:8]}.parquet"
    return _write_parquet(frame, target)


def paths_of(files: Iterable[InboxFile]) -> list[Path]:
    return [f.path for f in files]
