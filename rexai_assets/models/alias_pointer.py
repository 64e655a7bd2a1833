"""Which version an alias points at, without importing MLflow: a pointer that any registry write invalidates.

Resolving an alias through MLflow costs a one-shot command such as `rexai recommend` over a second
(importing mlflow and SQLAlchemy). With the embedded sqlite registry, a pointer file keeps the answer
together with the registry database's stamp (inode, size and modification time in ns of the database
and its journal files). While the stamp is unchanged nothing was written, so the pointer holds. Once
any write changed it (a run logged metrics, or the alias moved), the pointer is used only if a read-only
query of the alias row and of that version's run id in the same database still finds what the pointer
says (MLflow's `registered_model_aliases` and `model_versions` tables; if that query fails, for example
after a schema change, the pointer is not used); else the alias is resolved through MLflow again and the
pointer rewritten. A pointer is written only when the stamp was
the same before and after the MLflow query, so a write racing the query cannot be recorded as settled.
Registries that are not a local sqlite file (an MLflow server) are always asked.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

SQLITE_PREFIX = "sqlite:///"
JOURNALS = ("", "-wal", "-journal")


def registry_database(uri: str) -> Path | None:
    """The sqlite file behind a registry URI, or None for any other kind of registry."""
    if not uri.startswith(SQLITE_PREFIX):
        return None
    return Path(uri[len(SQLITE_PREFIX):].split("?", 1)[0])


def registry_stamp(uri: str) -> list[list[int]] | None:
    """(inode, size, mtime_ns) of the database and its journal files (0s for an absent one); None if not sqlite."""
    database = registry_database(uri)
    if database is None or not database.exists():
        return None
    stamp = []
    for suffix in JOURNALS:
        path = database.with_name(database.name + suffix)
        st = path.stat() if path.exists() else None
        stamp.append([st.st_ino, st.st_size, st.st_mtime_ns] if st else [0, 0, 0])
    return stamp


def pointer_file(folder: Path, name: str, alias: str) -> Path:
    return folder / f"{name}@{alias}.json"


def read_pointer(folder: Path, uri: str, name: str, alias: str) -> tuple[bool, dict | None]:
    """(found, version info fields or None when the alias pointed nowhere); (False, None) when stale or absent."""
    stamp = registry_stamp(uri)
    path = pointer_file(folder, name, alias)
    if stamp is None or not path.exists():
        return False, None
    try:
        pointer = json.loads(path.read_text())
    except (OSError, ValueError):
        return False, None
    if pointer.get("uri") != uri:
        return False, None
    info = pointer.get("info")
    if pointer.get("stamp") != stamp and not _still_points(uri, name, alias, info):
        return False, None
    return True, info


def _still_points(uri: str, name: str, alias: str, info: dict | None) -> bool:
    """Whether the registry database still has `alias` on the pointer's version, of the same run."""
    import sqlite3
    from contextlib import closing

    try:
        with closing(sqlite3.connect(f"file:{registry_database(uri)}?mode=ro", uri=True, timeout=1.0)) as con:
            row = con.execute("SELECT a.version, v.run_id FROM registered_model_aliases a JOIN model_versions v "
                              "ON v.name = a.name AND v.version = a.version WHERE a.name = ? AND a.alias = ?",
                              [name, alias]).fetchall()
    except sqlite3.Error:
        return False
    if info is None:
        return row == []
    return len(row) == 1 and str(row[0][0]) == str(info.get("version")) and row[0][1] == info.get("run_id")


def write_pointer(folder: Path, uri: str, name: str, alias: str, info: Any, stamp_before: list | None) -> bool:
    """Record where `alias` points (`info`: a ModelVersionInfo or None) if the registry did not change meanwhile."""
    from rexai_assets.atomic import write_text_atomic

    if stamp_before is None or registry_stamp(uri) != stamp_before:
        return False
    fields = None if info is None else {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(info).items()}
    write_text_atomic(pointer_file(folder, name, alias),
                      json.dumps({"uri": uri, "stamp": stamp_before, "info": fields}, sort_keys=True))
    return True
