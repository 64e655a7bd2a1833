"""Validation of experiment and crew-feedback records (formats fixed by DESIGN.md).

The same validators serve the Dagster assets and the `rexai log-experiment` / `rexai feedback`
commands. A record is accepted whole or rejected with a `RejectedRow` per problem (file, row,
column, reason); a frame that lacks a required column cannot be validated at all
(`RecordFormatError`, the file goes to quarantine).

Rules beyond DESIGN.md's field list, decided here:
- rows are numbered from `first_line` (1 = the first record; the CLI passes 2 for CSV so the
  number is the CSV line);
- timestamps without a time zone are taken as UTC; everything is stored as UTC;
- `recipe_id` / `process_id` columns may be empty or absent (taken from `recipe_spec`); when both are given
  they must agree; `recipe_spec` is stored in canonical form (`Recipe.to_json()`);
- a timestamp more than `future_tolerance_minutes` (config/observations.yaml) in the future is a
  typo and rejects its row; so does an experiment that finished before EXPERIMENTS_START_DATE
  (no daily partition would cover it);
- an identifier or environment that contains an e-mail or a blocklisted name rejects its row
  (identifiers are never rewritten); free text is scrubbed later, not rejected;
- `habitat` (optional in both formats) must be an id of config/habitats.yaml (compared lower-case);
  any other value rejects its row. A validated id is not personal data, so it is not free text and is
  never scrubbed;
- columns outside the format are dropped (they might carry personal data nobody scrubs);
- a repeated id with identical content is kept once; with different content the later row is
  rejected, naming the first.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

import pandas as pd

from rexai_assets.contract import BOUNDED_TARGETS, TARGETS
from rexai_assets.habitat_config import known_habitats
from rexai_assets.hashing import canonical_json, sha256_json
from rexai_assets.ingestion_log import RejectedRow
from rexai_assets.observations.pii import PiiScrubber, default_scrubber, observations_settings
from rexai_assets.recipes import RecipeCatalog, RecipeError, parse_recipe

LAYER = "observations"
EXPERIMENTS_START_DATE = "2020-01-01"  # first daily partition; archived lab results go back to 2020
VERDICTS = ("pass", "fail", "inconclusive")
FEEDBACK_LABEL_SOURCE = "crew_feedback"
ENVIRONMENT_PATTERN = r"^[a-z][a-z0-9_\-]{0,63}$"
MAX_ID_LENGTH = 200

EXPERIMENT_REQUIRED = ("experiment_id", "recipe_spec", "environment", "operator_id", "started_at",
                       "finished_at", "raw_measurements", "verdict")
EXPERIMENT_OPTIONAL = ("recipe_id", "process_id", "next_actions", "habitat")
EXPERIMENT_COLUMNS = ("experiment_id", "recipe_id", "process_id", "recipe_spec", "environment", "operator_id",
                      "started_at", "finished_at", "raw_measurements", "verdict", "next_actions", "habitat")

FEEDBACK_REQUIRED = ("feedback_id", "recipe_spec", "operator_id", "submitted_at")
FEEDBACK_OPTIONAL = ("recipe_id", "process_id", "habitat", *TARGETS, "rating", "notes")
FEEDBACK_COLUMNS = ("feedback_id", "recipe_id", "process_id", "recipe_spec", "habitat", "operator_id", "submitted_at",
                    *TARGETS, "rating", "notes")


class RecordFormatError(ValueError):
    """The frame cannot be validated at all (a required column is missing)."""


@dataclass(frozen=True)
class RecordKind:
    """What differs between experiments and feedback."""

    name: str  # 'experiment' | 'feedback'
    id_column: str
    time_column: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    columns: tuple[str, ...]  # the inbox file format, in order
    free_text: tuple[str, ...]  # scrubbed, never rejected


EXPERIMENT = RecordKind("experiment", "experiment_id", "finished_at", EXPERIMENT_REQUIRED, EXPERIMENT_OPTIONAL,
                        EXPERIMENT_COLUMNS, ("next_actions",))
FEEDBACK = RecordKind("feedback", "feedback_id", "submitted_at", FEEDBACK_REQUIRED, FEEDBACK_OPTIONAL,
                      FEEDBACK_COLUMNS, ("notes",))
KINDS = {"experiment": EXPERIMENT, "feedback": FEEDBACK}


@dataclass
class ValidationResult:
    """Valid records in normalised form (plus `source_row`), and why the others were rejected."""

    records: pd.DataFrame
    rejected: list[RejectedRow]
    total_rows: int
    duplicates_identical: int = 0

    @property
    def rejected_rows(self) -> int:
        return len({r.line for r in self.rejected if r.line is not None})

    def first_reason(self) -> str | None:
        return self.rejected[0].one_line() if self.rejected else None


@dataclass
class _Problems:
    source_file: str
    run_id: str | None
    rows: dict[Any, list[RejectedRow]] = field(default_factory=dict)

    def add(self, index: Any, line: int, column: str | None, value: Any, reason: str) -> None:
        if any(r.column == column for r in self.rows.get(index, [])):
            return  # one reason per cell: a missing value is not also "not in the vocabulary"
        if column == "operator_id":
            value = None  # the error log must not hold a clear operator id
        self.rows.setdefault(index, []).append(
            RejectedRow(self.source_file, line, column, value, reason, self.run_id, LAYER))

    def __contains__(self, index: Any) -> bool:
        return index in self.rows

    def all(self) -> list[RejectedRow]:
        return [row for rows in self.rows.values() for row in rows]


# ---------------------------------------------------------------------------------------------
# Cell coercion


def is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def clean_text(value: Any) -> str | None:
    """A stripped string, or None for missing / empty cells."""
    if is_missing(value):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # an id read from CSV as 12.0 means "12"
    text = str(value).strip()
    return text or None


def parse_timestamp(value: Any) -> pd.Timestamp | None:
    """UTC timestamp (naive input is UTC); None for missing; ValueError when unparseable."""
    if is_missing(value) or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError("a bare number is not a timestamp")
    try:
        stamp = pd.Timestamp(value.strip() if isinstance(value, str) else value)
    except (ValueError, TypeError, OverflowError):
        raise ValueError("not an ISO 8601 timestamp") from None
    if stamp is pd.NaT:
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def parse_number(value: Any) -> float | None:
    if is_missing(value) or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"must be finite, got {value!r}")
    return number


def target_range_error(target: str, value: float) -> str | None:
    if target in BOUNDED_TARGETS:
        return None if 0.0 <= value <= 1.0 else f"{target} must be in [0, 1], got {value}"
    return None if value >= 0.0 else f"{target} must be >= 0, got {value}"


def _json_object(value: Any, what: str) -> dict:
    """A JSON object from a string (or an already-parsed mapping, as JSON input gives)."""
    if is_missing(value):
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, (str, bytes)):
        raise ValueError(f"{what} must be a JSON object, got {type(value).__name__}")
    try:
        parsed = json.loads(value) if str(value).strip() else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} is not valid JSON ({exc.msg})") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"{what} must be a JSON object")
    return parsed


# ---------------------------------------------------------------------------------------------
# Schemas


def _schema(kind: RecordKind) -> Any:
    """pandera schema of the coerced frame: presence, vocabularies and ranges of plain columns."""
    import pandera.pandas as pa

    def text(nullable: bool, *checks: Any) -> Any:
        return pa.Column(object, nullable=nullable, required=False, checks=list(checks))

    id_check = pa.Check(lambda s: s.str.len() <= MAX_ID_LENGTH, element_wise=False,
                        error=f"must be at most {MAX_ID_LENGTH} characters long")
    stamp = pa.Column("datetime64[ns, UTC]", nullable=False, required=False)
    columns: dict[str, Any] = {
        kind.id_column: text(False, id_check),
        "recipe_id": text(True, id_check),
        "process_id": text(True),
        "recipe_spec": text(False),
        "operator_id": text(False, id_check),
        kind.time_column: stamp,
    }
    if kind is EXPERIMENT:
        columns.update({
            "environment": text(False, pa.Check.str_matches(ENVIRONMENT_PATTERN),
                                pa.Check(lambda s: s != FEEDBACK_LABEL_SOURCE, error="is reserved for crew feedback")),
            "started_at": stamp,
            "verdict": text(False, pa.Check.isin(VERDICTS)),
            "raw_measurements": text(True),
            "next_actions": text(True),
            "habitat": text(True),
        })
    else:
        for target in TARGETS:
            bounds = (0.0, 1.0) if target in BOUNDED_TARGETS else (0.0, None)
            check = pa.Check.in_range(*bounds) if bounds[1] is not None else pa.Check.ge(0.0)
            columns[target] = pa.Column(float, nullable=True, required=False, checks=[check])
        columns.update({
            "habitat": text(True),
            "rating": pa.Column(float, nullable=True, required=False,
                                checks=[pa.Check.isin([1.0, 2.0, 3.0, 4.0, 5.0], error="must be 1-5")]),
            "notes": text(True),
        })
    return pa.DataFrameSchema(columns, strict=False, coerce=False)


def _describe_check(column: str, check: str, value: Any) -> str:
    if check == "not_nullable":
        return f"{column} is missing"
    if check.startswith("isin") and column == "verdict":
        return f"verdict must be one of {', '.join(VERDICTS)}, got {value!r}"
    if check.startswith("str_matches"):
        return f"{column} must be a lower-case label (letters, digits, _ or -), got {value!r}"
    if check.startswith("in_range"):
        return f"{column} must be in [0, 1], got {value}"
    if check.startswith("greater_than_or_equal_to"):
        return f"{column} must be >= 0, got {value}"
    return f"{column} {check}, got {value!r}"  # a custom check's error text reads after the column name


# ---------------------------------------------------------------------------------------------
# Validation


def check_columns(frame: pd.DataFrame, kind: RecordKind, source_file: str) -> None:
    missing = [c for c in kind.required if c not in frame.columns]
    if missing:
        raise RecordFormatError(f"{source_file}: not a {kind.name} file, missing column(s) {', '.join(missing)}")


def _coerce(frame: pd.DataFrame, kind: RecordKind, problems: _Problems, lines: dict[Any, int]) -> pd.DataFrame:
    """Typed copy of the format's columns; cells that cannot be typed are recorded as problems."""
    out = pd.DataFrame(index=frame.index)
    stamp_columns = ("started_at", "finished_at") if kind is EXPERIMENT else ("submitted_at",)
    number_columns = (*TARGETS, "rating") if kind is FEEDBACK else ()
    for column in kind.columns:
        source = frame[column] if column in frame.columns else pd.Series(None, index=frame.index, dtype=object)
        if column in stamp_columns or column in number_columns:
            parse = parse_timestamp if column in stamp_columns else parse_number
            values = []
            for index, value in source.items():
                try:
                    values.append(parse(value))
                except ValueError as exc:
                    problems.add(index, lines[index], column, value, f"{column} {exc}")
                    values.append(None)
            parsed = pd.Series(values, index=frame.index, dtype=object)
            out[column] = (pd.to_datetime(parsed, utc=True).astype("datetime64[ns, UTC]") if column in stamp_columns
                           else parsed.astype("float64"))
        elif column in ("recipe_spec", "raw_measurements"):
            # JSON input may carry the object itself rather than its text.
            out[column] = [v if isinstance(v, (Mapping, list)) else clean_text(v) for v in source]
        else:
            out[column] = pd.Series([clean_text(v) for v in source], index=frame.index, dtype=object)
    for column in ("verdict", "environment", "habitat"):
        if column in out.columns:
            out[column] = [v.lower() if isinstance(v, str) else v for v in out[column]]
    return out


def _schema_problems(coerced: pd.DataFrame, kind: RecordKind, problems: _Problems, lines: dict[Any, int]) -> None:
    import pandera.pandas as pa

    try:
        _schema(kind).validate(coerced, lazy=True)
    except pa.errors.SchemaErrors as exc:
        for case in exc.failure_cases.itertuples(index=False):
            if case.index is None or (isinstance(case.index, float) and math.isnan(case.index)):
                continue  # a column-level dtype failure repeats the cell failures already recorded
            problems.add(case.index, lines[case.index], case.column, case.failure_case,
                         _describe_check(str(case.column), str(case.check), case.failure_case))


def _recipe(row: pd.Series, catalog: RecipeCatalog | None) -> tuple[str, str, str]:
    """(recipe_id, process_id, canonical spec) of a row; RecipeError / ValueError with the reason."""
    spec = row["recipe_spec"]
    spec_obj = dict(spec) if isinstance(spec, Mapping) else _json_object(spec, "recipe_spec")
    for column in ("recipe_id", "process_id"):
        given = row.get(column)
        in_spec = spec_obj.get(column)
        if given and in_spec not in (None, "") and str(in_spec).strip() != given:
            raise ValueError(f"{column} {given!r} disagrees with recipe_spec ({in_spec!r})")
        if given and in_spec in (None, ""):
            spec_obj[column] = given
    recipe = parse_recipe(spec_obj, catalog)
    return recipe.recipe_id, recipe.process_id, recipe.to_json()


def _measurements(value: Any) -> tuple[dict, dict[str, float]]:
    """(all readings, the targets among them); ValueError (column suffix, reason) on a bad target."""
    readings = _json_object(value, "raw_measurements")
    targets: dict[str, float] = {}
    for target in TARGETS:
        if target not in readings or readings[target] is None:
            continue
        try:
            number = parse_number(readings[target])
        except ValueError as exc:
            raise ValueError(target, f"raw_measurements.{target} {exc}") from None
        error = target_range_error(target, number)
        if error:
            raise ValueError(target, f"raw_measurements.{error}")
        targets[target] = number
    return readings, targets


def measured_row_count(frame: pd.DataFrame, kind: RecordKind) -> int:
    """Rows of an inbox file with at least one valid target reading: the labelled rows the retrain policy
    counts once they are ingested (a row the ingestion rejects for another reason is counted here)."""
    if kind.name != EXPERIMENT.name:
        present = [t for t in TARGETS if t in frame.columns]
        return int(frame[present].notna().any(axis=1).sum()) if present else 0
    count = 0
    for value in frame["raw_measurements"] if "raw_measurements" in frame.columns else []:
        try:
            count += bool(_measurements(value)[1])
        except ValueError:
            continue  # the ingestion rejects this row with its reason
    return count


def _content_key(record: Mapping[str, Any]) -> str:
    return sha256_json({k: (v.isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in record.items()
                        if k != "source_row" and not is_missing(v)})


def deduplicate(frame: pd.DataFrame, id_column: str, hash_column: str
                ) -> tuple[pd.DataFrame, int, list[tuple[pd.Series, pd.Series]]]:
    """Keep the first row per id; (kept, identical repeats dropped, [(conflicting row, first row)])."""
    first: dict[str, pd.Series] = {}
    keep: list[Any] = []
    identical = 0
    conflicts: list[tuple[pd.Series, pd.Series]] = []
    for index, row in frame.iterrows():
        seen = first.get(row[id_column])
        if seen is None:
            first[row[id_column]] = row
            keep.append(index)
        elif seen[hash_column] == row[hash_column]:
            identical += 1
        else:
            conflicts.append((row, seen))
    return frame.loc[keep], identical, conflicts


class RowProblem(Exception):
    """One reason a record is rejected: the column, the value to log (None keeps it out of the log), the reason."""

    def __init__(self, column: str, value: Any, reason: str):
        super().__init__(reason)
        self.column, self.value, self.reason = column, value, reason


@dataclass(frozen=True)
class TimeWindow:
    """Record times the registry accepts: from its first day to now plus the configured tolerance."""

    earliest: pd.Timestamp
    latest: pd.Timestamp

    @classmethod
    def around(cls, now: datetime | None, future_tolerance_minutes: float) -> "TimeWindow":
        now_ts = pd.Timestamp(now or datetime.now(timezone.utc))
        now_ts = now_ts.tz_localize("UTC") if now_ts.tzinfo is None else now_ts.tz_convert("UTC")
        return cls(pd.Timestamp(EXPERIMENTS_START_DATE, tz="UTC"), now_ts + pd.Timedelta(minutes=future_tolerance_minutes))


def _experiment_fields(row: pd.Series, window: TimeWindow) -> dict[str, Any]:
    """An experiment's time order and measurements, or a RowProblem."""
    if row["finished_at"] < row["started_at"]:
        raise RowProblem("finished_at", row["finished_at"].isoformat(),
                         f"finished_at {row['finished_at'].isoformat()} is before started_at {row['started_at'].isoformat()}")
    if row["finished_at"] < window.earliest:
        raise RowProblem("finished_at", row["finished_at"].isoformat(),
                         f"finished_at is before the registry's first day {EXPERIMENTS_START_DATE}")
    try:
        readings, targets = _measurements(row["raw_measurements"])
    except ValueError as exc:
        target, reason = exc.args if len(exc.args) == 2 else (None, str(exc))
        raise RowProblem(f"raw_measurements.{target}" if target else "raw_measurements", row["raw_measurements"],
                         reason) from None
    return {"raw_measurements": canonical_json(readings), **{t: targets.get(t, math.nan) for t in TARGETS}}


def habitat_problem(value: Any, known: tuple[str, ...]) -> RowProblem | None:
    """A habitat that is not an id of config/habitats.yaml (None and known ids are fine)."""
    if value is None or value in known:
        return None
    return RowProblem("habitat", value, f"habitat {value!r} is not a habitat id of config/habitats.yaml "
                                        f"(known: {', '.join(known) or 'none'})")


def validate_row(row: pd.Series, kind: RecordKind, catalog: RecipeCatalog | None, window: TimeWindow,
                 scrubber: PiiScrubber, habitats: tuple[str, ...] = ()) -> dict[str, Any]:
    """One coerced row as a normalised record, or a RowProblem with its column and reason."""
    record: dict[str, Any] = {c: row[c] for c in kind.columns}
    problem = habitat_problem(record.get("habitat"), habitats)
    if problem is not None:
        raise problem
    try:
        record["recipe_id"], record["process_id"], record["recipe_spec"] = _recipe(row, catalog)
    except (RecipeError, ValueError) as exc:
        raise RowProblem("recipe_spec", row["recipe_spec"], f"recipe_spec: {exc}") from None
    when = row[kind.time_column]
    if when > window.latest:
        raise RowProblem(kind.time_column, when.isoformat(), f"{kind.time_column} lies in the future")
    if kind is EXPERIMENT:
        record.update(_experiment_fields(row, window))
    # operator_id is not listed: it is pseudonymised whatever it contains.
    identifiers = [kind.id_column, "recipe_id"] + (["environment"] if kind is EXPERIMENT else [])
    leaked = next(((c, hit) for c in identifiers if isinstance(record.get(c), str)
                   for hit in scrubber.find(record[c], ("email", "name"))), None)
    if leaked:
        column, hit = leaked
        # the value is not logged: the error log must not become a copy of the personal data
        raise RowProblem(column, None, f"{column} contains personal data ({hit.kind})")
    if kind is FEEDBACK and not is_missing(record["rating"]):
        record["rating"] = int(record["rating"])
    return record


def validate_records(frame: pd.DataFrame, kind: RecordKind | str, catalog: RecipeCatalog | None,
                     source_file: str, run_id: str | None = None, first_line: int = 1,
                     now: datetime | None = None, scrubber: PiiScrubber | None = None) -> ValidationResult:
    """Validate experiment or feedback records against DESIGN.md's format and the recipe catalog."""
    kind = KINDS[kind] if isinstance(kind, str) else kind
    check_columns(frame, kind, source_file)
    scrubber = scrubber or default_scrubber()
    habitats = known_habitats()
    window = TimeWindow.around(now, observations_settings().future_tolerance_minutes)
    frame = frame.reset_index(drop=True)
    lines = {index: int(index) + first_line for index in frame.index}
    problems = _Problems(source_file, run_id)
    coerced = _coerce(frame, kind, problems, lines)
    _schema_problems(coerced, kind, problems, lines)
    records: list[dict[str, Any]] = []
    for index, row in coerced.iterrows():
        if index in problems:
            continue
        try:
            record = validate_row(row, kind, catalog, window, scrubber, habitats)
        except RowProblem as problem:
            problems.add(index, lines[index], problem.column, problem.value, problem.reason)
            continue
        records.append(dict(record, source_row=lines[index]))
    return _deduplicated_result(records, kind, problems.all(), len(frame), source_file, run_id)


def _deduplicated_result(records: list[dict[str, Any]], kind: RecordKind, rejected: list[RejectedRow], total: int,
                         source_file: str, run_id: str | None) -> ValidationResult:
    """Valid records with identical duplicates folded and conflicting ones rejected, rows in file order."""
    columns = [*kind.columns, *(TARGETS if kind is EXPERIMENT else ()), "source_row"]
    valid = normalised_frame(records, kind, columns)
    valid["_content"] = [_content_key(r) for r in records]
    kept, identical, conflicts = deduplicate(valid, kind.id_column, "_content")
    for row, first in conflicts:
        rejected.append(RejectedRow(source_file, int(row["source_row"]), kind.id_column, row[kind.id_column],
                                    f"duplicate {kind.id_column} {row[kind.id_column]!r} with different content "
                                    f"(first at row {first['source_row']})", run_id, LAYER))
    rejected.sort(key=lambda r: (r.line or 0))
    return ValidationResult(kept.drop(columns="_content").reset_index(drop=True), rejected, total, identical)


def normalised_frame(records: list[dict[str, Any]], kind: RecordKind, columns: Iterable[str]) -> pd.DataFrame:
    """Records as a frame with stable dtypes, also when there are none."""
    columns = list(columns)
    frame = pd.DataFrame.from_records(records, columns=columns)
    for column in columns:
        if column in ("started_at", "finished_at", "submitted_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
        elif column in TARGETS:
            frame[column] = frame[column].astype("float64")
        elif column == "rating":
            frame[column] = frame[column].astype("Int64")
        elif column == "source_row":
            frame[column] = frame[column].astype("int64")
        else:
            frame[column] = frame[column].astype(object)
    return frame


def validate_experiments(frame: pd.DataFrame, catalog: RecipeCatalog | None, source_file: str,
                         **kwargs: Any) -> ValidationResult:
    return validate_records(frame, EXPERIMENT, catalog, source_file, **kwargs)


def validate_feedback(frame: pd.DataFrame, catalog: RecipeCatalog | None, source_file: str,
                      **kwargs: Any) -> ValidationResult:
    return validate_records(frame, FEEDBACK, catalog, source_file, **kwargs)


def inbox_frame(records: pd.DataFrame, kind: RecordKind) -> pd.DataFrame:
    """Valid records in the inbox file format of DESIGN.md (what the CLI writes)."""
    # An optional column the records lack is written empty (older producers have no `habitat`).
    missing = {c: None for c in kind.optional if c not in records.columns}
    frame = records.assign(**missing).loc[:, list(kind.columns)].copy()
    return frame.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Towards the warehouse


def prepare_for_warehouse(records: pd.DataFrame, kind: RecordKind, key: bytes, scrubber: PiiScrubber,
                          digits: int | None = None) -> pd.DataFrame:
    """Pseudonymise operator ids, scrub free text and add `content_sha256` (the duplicate test)."""
    from rexai_assets.observations.pii import pseudonymize

    out = records.copy()
    out["operator_id"] = [pseudonymize(v, key, digits) for v in out["operator_id"]]
    for column in kind.free_text:
        out[column] = [scrubber.scrub(v) if isinstance(v, str) else None for v in out[column]]
    if kind is EXPERIMENT:
        out["raw_measurements"] = [canonical_json(scrubber.scrub_json_value(json.loads(v)))
                                   for v in out["raw_measurements"]]
    content_columns = [c for c in out.columns if c != "source_row"]
    out["content_sha256"] = [_content_key({c: (None if is_missing(row[c]) else row[c]) for c in content_columns})
                             for _, row in out.iterrows()]
    return out


def measurement_rows(prepared: pd.DataFrame, kind: RecordKind) -> pd.DataFrame:
    """The labelled rows of CONTRACTS.md's `observations.measurements` (without provenance columns)."""
    labelled = prepared[prepared[list(TARGETS)].notna().any(axis=1)] if len(prepared) else prepared
    return pd.DataFrame({
        "observation_id": labelled[kind.id_column].astype(object),
        "kind": kind.name,
        "recipe_id": labelled["recipe_id"].astype(object),
        "recipe_spec": labelled["recipe_spec"].astype(object),
        "process_id": labelled["process_id"].astype(object),
        "label_source": labelled["environment"].astype(object) if kind is EXPERIMENT else FEEDBACK_LABEL_SOURCE,
        "observed_at": labelled[kind.time_column],
        **{t: labelled[t].astype("float64") for t in TARGETS},
    }).reset_index(drop=True)
