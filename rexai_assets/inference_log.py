"""The inference log: every prediction served, one small parquet file per call, compacted into the warehouse.

Writers (`rexai predict`, `rexai recommend`, the `recipe_recommendations` asset, `rexai plan-experiments`)
call `log_inference` once, at the end of their work: it writes
`<data root>/logs/inference/inference_<UTC time>_<unique>.parquet` to a temporary name and renames it,
so concurrent calls never share a file and no reader ever sees half of one. Nothing is appended to an
existing file. `compact` (called by the ingestion runs, which hold the warehouse) inserts every published
file into `registry.inference_log` (primary key `entry_id`: a file compacted twice adds nothing) and
deletes the files only after the commit; an unreadable file is moved to `quarantine/`.

One row per (call, recipe): when, which command, the model (source, version, model_hash,
feature_order_hash), the recipe (id, content key, content hash), the prediction and interval per target,
the preset if any, the call's latency, and the habitat adapter that served (`habitat`, `adapter_version`;
both None when the shared model answered, with or without `--habitat`). No Dagster, no heavy import: pandas
and pyarrow only.

Migration: the two adapter columns came last, after `latency_ms`. Files written before them compact with
NULLs there, a warehouse table made before them gains them at the next compaction (`ensure_table`), and
`read_log` returns every column of `COLUMNS` whatever the table holds.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from rexai_assets.contract import TARGETS

TABLE = "registry.inference_log"
PREFIX = "inference_"
IDENTITY_COLUMNS = ("model_source", "model_version", "model_hash", "feature_order_hash")
# Which habitat adapter served the call (None: the shared model answered); optional in `identity`.
ADAPTER_COLUMNS = ("habitat", "adapter_version")
NUMBER_COLUMNS = (*(f"{t}{s}" for t in TARGETS for s in ("", "_lo", "_hi")), "latency_ms")
COLUMNS = ("entry_id", "call_id", "logged_at", "command", *IDENTITY_COLUMNS, "preset", "position", "recipe_id",
           "recipe_key", "recipe_hash", *NUMBER_COLUMNS, *ADAPTER_COLUMNS)
TARGET_DDL = ", ".join(f"{t}{s} DOUBLE" for t in TARGETS for s in ("", "_lo", "_hi"))
DDL = f"""CREATE SCHEMA IF NOT EXISTS registry;
CREATE TABLE IF NOT EXISTS {TABLE} (
    entry_id VARCHAR PRIMARY KEY, call_id VARCHAR NOT NULL, logged_at TIMESTAMP NOT NULL, command VARCHAR NOT NULL,
    model_source VARCHAR, model_version VARCHAR, model_hash VARCHAR, feature_order_hash VARCHAR, preset VARCHAR,
    position INTEGER, recipe_id VARCHAR, recipe_key VARCHAR NOT NULL, recipe_hash VARCHAR NOT NULL, {TARGET_DDL},
    latency_ms DOUBLE, habitat VARCHAR, adapter_version VARCHAR);
{"".join(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS {c} VARCHAR;" for c in ADAPTER_COLUMNS)}"""


@dataclass(frozen=True)
class Served:
    """One recipe's served prediction: {target: {"value", "lo", "hi"}}."""

    recipe_id: str
    recipe_key: str      # recipes.recipe_key: the default id of the content
    recipe_hash: str     # recipes.content_hash
    prediction: Mapping[str, Mapping[str, float]]


def served_from_spec(spec: str | Mapping[str, Any], prediction: Mapping[str, Mapping[str, float]],
                     recipe_id: str | None = None) -> Served:
    """A `Served` from a recipe spec (JSON text or dict, as `Recipe.spec()` gives)."""
    from rexai_assets.recipes import spec_identity

    key, digest = spec_identity(spec)
    given = recipe_id or (spec.get("recipe_id") if isinstance(spec, Mapping) else None)
    return Served(str(given or key), key, digest, prediction)


def entries(command: str, identity: Mapping[str, Any], served: Iterable[Served], preset: str | None,
            latency_ms: float, now: datetime | None = None) -> list[dict[str, Any]]:
    """The log rows of one call (`identity`: model_source, model_version, model_hash, feature_order_hash, and
    habitat / adapter_version when an adapter served)."""
    call_id = uuid.uuid4().hex
    logged_at = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
    rows = []
    for position, item in enumerate(served):
        row = {"entry_id": f"{call_id}-{position}", "call_id": call_id, "logged_at": logged_at, "command": command,
               **{k: (None if identity.get(k) is None else str(identity[k])) for k in IDENTITY_COLUMNS + ADAPTER_COLUMNS},
               "preset": preset, "position": position, "recipe_id": item.recipe_id, "recipe_key": item.recipe_key,
               "recipe_hash": item.recipe_hash, "latency_ms": float(latency_ms)}
        for target in TARGETS:
            cell = item.prediction.get(target) or {}
            for suffix, part in (("", "value"), ("_lo", "lo"), ("_hi", "hi")):
                row[f"{target}{suffix}"] = None if cell.get(part) is None else float(cell[part])
        rows.append(row)
    return rows


def frame(rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    out = pd.DataFrame(rows, columns=list(COLUMNS))
    out["logged_at"] = pd.to_datetime(out["logged_at"]).astype("datetime64[us]")
    out["position"] = out["position"].astype("int32")
    for column in NUMBER_COLUMNS:
        out[column] = out[column].astype("float64")
    return with_adapter_columns(out)


def with_adapter_columns(frame: Any) -> Any:
    """`frame` with the adapter columns as text or None (absent in files and tables older than them)."""
    out = frame.copy()
    for column in ADAPTER_COLUMNS:
        values = out[column] if column in out.columns else None
        out[column] = None if values is None else values.astype(object).where(values.notna(), None)
    return out


def write_entries(folder: Path, rows: list[dict[str, Any]]) -> Path | None:
    """One new, uniquely named parquet file under `folder` (atomic); None when there is nothing to log."""
    from rexai_assets.atomic import write_with

    if not rows:
        return None
    stamp = rows[0]["logged_at"].strftime("%Y%m%dT%H%M%S%f")
    target = Path(folder) / f"{PREFIX}{stamp}_{os.getpid()}_{rows[0]['call_id'][:12]}.parquet"
    data = frame(rows)
    return write_with(target, lambda tmp: data.to_parquet(tmp, index=False))


def log_inference(folder: Path, command: str, identity: Mapping[str, Any], served: Iterable[Served],
                  preset: str | None = None, latency_ms: float = 0.0) -> Path | None:
    """Log one serving call (the function every serving command calls once, at its end)."""
    return write_entries(folder, entries(command, identity, served, preset, latency_ms))


def pending_files(folder: Path) -> list[Path]:
    """Published log files (temporary files start with a dot and are never listed)."""
    return sorted(Path(folder).glob(f"{PREFIX}*.parquet"))


def ensure_table(con: Any) -> None:
    con.execute(DDL)


def compact(con: Any, folder: Path, quarantine: Path) -> int:
    """Move every published log file into `registry.inference_log`; returns the rows added."""
    import pandas as pd

    from rexai_assets.warehouse import transaction

    ensure_table(con)
    frames, done = [], []
    for path in pending_files(folder):
        try:
            frames.append(with_adapter_columns(pd.read_parquet(path)).reindex(columns=list(COLUMNS)))
            done.append(path)
        except FileNotFoundError:
            continue  # compacted by another run meanwhile
        except Exception:  # noqa: BLE001 - a corrupt file must not stop the others; it is kept for a person
            quarantine.mkdir(parents=True, exist_ok=True)
            os.replace(path, quarantine / path.name)
    if not frames:
        return 0
    incoming = with_adapter_columns(pd.concat(frames, ignore_index=True))
    before = con.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
    columns = ", ".join(COLUMNS)   # by name: a table older than the adapter columns has them last, as here
    with transaction(con):
        con.register("_inference", incoming)
        try:
            con.execute(f"INSERT INTO {TABLE} ({columns}) SELECT DISTINCT ON (entry_id) {columns} FROM _inference "
                        f"WHERE entry_id NOT IN (SELECT entry_id FROM {TABLE})")
        finally:
            con.unregister("_inference")
    for path in done:
        path.unlink(missing_ok=True)
    return con.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0] - before


def read_log(con: Any, recipe_keys: list[str] | None = None) -> Any:
    """`registry.inference_log`, or its entries for `recipe_keys` (empty, with its columns, while nothing
    was compacted; the adapter columns None where a table older than them has none)."""
    from rexai_assets.warehouse import table_exists

    if not table_exists(con, "registry", "inference_log") or recipe_keys == []:
        return frame([])
    where, params = ("WHERE list_contains(?, recipe_key) ", [recipe_keys]) if recipe_keys is not None else ("", [])
    found = con.execute(f"SELECT * FROM {TABLE} {where}ORDER BY logged_at, entry_id", params).df()
    return with_adapter_columns(found)[list(COLUMNS)]
