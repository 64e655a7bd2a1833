"""`rexai log-experiment FILE` and `rexai feedback FILE`: validate records, then drop them into the inbox.

FILE is CSV (header row), JSON (a list of record objects; `recipe_spec` / `raw_measurements` may be
objects or JSON strings) or parquet, chosen by its extension. The records are validated with the
same rules as the observation assets, recipe_spec against the data root's raw tables.

All or nothing: if any record is invalid, the command prints the first reason (file, row, column)
and how many rows are invalid, writes nothing and exits 1. Otherwise it writes new, uniquely named
files atomically (temporary file + rename in the same directory, never appending): experiments one
`experiments_YYYYMMDD_<unique>.parquet` per UTC day of finished_at, feedback one
`feedback_<UTC timestamp>_<unique>.parquet`. Row numbers are CSV line numbers for CSV input and
1-based record numbers otherwise. A repeated id with identical content is written once.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rexai_assets.cli import CommandError

SUFFIXES = (".csv", ".json", ".parquet")


def read_input(path: Path) -> tuple[Any, int]:
    """(records frame, number of the first record's row) of a CSV, JSON or parquet file."""
    import pandas as pd

    if not path.is_file():
        raise CommandError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise CommandError(f"{path}: unsupported format {suffix or '(no extension)'!r}; use .csv, .json or .parquet")
    try:
        if suffix == ".csv":
            # Strings only: the validators type each cell and name the one that does not parse.
            return pd.read_csv(path, dtype=str, keep_default_na=False), 2
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise CommandError(f"{path}: JSON input must be a list of record objects")
            return pd.DataFrame.from_records(data), 1
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pandas(), 1
    except CommandError:
        raise
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except Exception as exc:  # pandas / pyarrow raise many types for a malformed file
        raise CommandError(f"{path}: cannot read {suffix[1:]} ({str(exc).splitlines()[0][:200]})") from None


def _catalog(data_layout: Any) -> Any:
    from rexai_assets.raw.tables import load_raw_tables
    from rexai_assets.recipes import RecipeCatalog

    try:
        tables = load_raw_tables(data_layout.raw)
    except Exception as exc:
        raise CommandError(f"cannot load the raw tables under {data_layout.raw}: {exc}") from None
    return RecipeCatalog.from_frames(tables.inventory, tables.processes)


def validate_file(path: Path, kind: str, data_layout: Any) -> Any:
    """The validated records of `path`; CommandError with the first reason if any row is invalid."""
    from rexai_assets.observations.records import RecordFormatError, validate_records

    frame, first_line = read_input(path)
    if frame.empty:
        raise CommandError(f"{path}: no records")
    try:
        result = validate_records(frame, kind, _catalog(data_layout), str(path), first_line=first_line)
    except RecordFormatError as exc:
        raise CommandError(str(exc)) from None
    if result.rejected:
        raise CommandError(f"{result.first_reason()} ({result.rejected_rows} of {result.total_rows} row(s) "
                           f"invalid; nothing written)")
    return result


def _where(path: Path, data_layout: Any) -> str:
    try:
        return str(path.relative_to(data_layout.root))
    except ValueError:
        return str(path)


def cmd_log_experiment(args: argparse.Namespace) -> int:
    from rexai_assets.observations.inbox import write_experiment_files
    from rexai_assets.paths import layout

    data_layout = layout().ensure()
    result = validate_file(Path(args.file), "experiment", data_layout)
    for target in write_experiment_files(result.records, data_layout):
        print(f"wrote {_count(target)} experiment record(s) to {_where(target, data_layout)}")
    _note_duplicates(result)
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    from rexai_assets.observations.inbox import write_feedback_file
    from rexai_assets.paths import layout

    data_layout = layout().ensure()
    result = validate_file(Path(args.file), "feedback", data_layout)
    target = write_feedback_file(result.records, data_layout)
    print(f"wrote {len(result.records)} feedback record(s) to {_where(target, data_layout)}")
    _note_duplicates(result)
    return 0


def _count(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.read_metadata(path).num_rows


def _note_duplicates(result: Any) -> None:
    if result.duplicates_identical:
        print(f"skipped {result.duplicates_identical} identical repeated record(s)")


def register(subparsers: argparse._SubParsersAction) -> None:
    experiment = subparsers.add_parser(
        "log-experiment", help="validate experiment records (CSV, JSON or parquet) and write them into the inbox")
    experiment.add_argument("file", help="records in DESIGN.md's experiment format")
    experiment.set_defaults(handler=cmd_log_experiment)
    feedback = subparsers.add_parser(
        "feedback", help="validate crew feedback records (CSV, JSON or parquet) and write them into the inbox")
    feedback.add_argument("file", help="records in DESIGN.md's crew feedback format")
    feedback.set_defaults(handler=cmd_feedback)
