"""The embedded DuckDB warehouse, without Dagster: connections that wait for the file lock,
transactions that roll back on any error, and the one "does this table exist" query.

The Dagster resource (`resources.Warehouse`) is a thin wrapper returning a `WarehouseClient`.
duckdb is imported when a connection opens, so importing this module stays light.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator


@contextmanager
def transaction(con: Any) -> Iterator[Any]:
    """BEGIN; COMMIT when the block ends; ROLLBACK and re-raise on any error (interrupts included)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def table_exists(con: Any, schema: str, table: str) -> bool:
    """Whether `schema.table` exists in the database of `con`."""
    found = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                        [schema, table]).fetchone()[0]
    return found > 0


@dataclass(frozen=True)
class WarehouseClient:
    """One DuckDB file; connections retry while another process holds its lock."""

    database: Path
    lock_timeout_s: float = 120.0

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[Any]:
        import duckdb

        path = Path(self.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.05
        while True:
            try:
                conn = duckdb.connect(str(path), read_only=read_only and path.exists())
                break
            except duckdb.IOException as exc:
                # DuckDB allows one writing process per file: wait for the other step to finish.
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A connection inside one transaction: committed when the block ends, rolled back on any error."""
        with self.connect() as con, transaction(con):
            yield con

    def table_exists(self, schema: str, table: str) -> bool:
        with self.connect(read_only=True) as con:
            return table_exists(con, schema, table)


def warehouse_path() -> Path:
    """The warehouse file of this environment: `REXAI_WAREHOUSE_PATH`, else `<data root>/warehouse/rexai.duckdb`."""
    from rexai_assets.paths import layout

    return Path(os.environ.get("REXAI_WAREHOUSE_PATH") or layout().warehouse)
