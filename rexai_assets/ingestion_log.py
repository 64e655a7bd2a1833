"""The rejected-rows log: `logs/ingestion.errors.jsonl`, one JSON object per rejected row or file."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from rexai_assets.atomic import locked


@dataclass(frozen=True)
class RejectedRow:
    """Why one row (or, with `line=None`, a whole file) was not accepted."""

    source_file: str
    line: int | None
    column: str | None
    value: Any
    reason: str
    run_id: str | None = None
    layer: str = "raw"
    logged_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    def one_line(self) -> str:
        where = self.source_file if self.line is None else f"{self.source_file}:{self.line}"
        column = f" [{self.column}]" if self.column else ""
        return f"{where}{column}: {self.reason}"

    def to_json(self) -> str:
        record = asdict(self)
        value = record["value"]
        if value is not None and not isinstance(value, (str, int, float, bool)):
            record["value"] = str(value)
        elif isinstance(value, float) and value != value:  # NaN is not JSON
            record["value"] = None
        return json.dumps(record, ensure_ascii=False, default=str)


def append_rejections(log_path: str | Path, rows: Iterable[RejectedRow]) -> int:
    """Append rows under an exclusive lock, so concurrent writers never interleave lines."""
    lines = [row.to_json() + "\n" for row in rows]
    if not lines:
        return 0
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with locked(log_path.with_name(log_path.name + ".lock")):
        with open(log_path, "a", encoding="utf-8") as handle:
            handle.writelines(lines)
            handle.flush()
            os.fsync(handle.fileno())
    return len(lines)


def read_rejections(log_path: str | Path) -> list[dict]:
    log_path = Path(log_path)
    if not log_path.exists():
        return []
    with open(log_path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
