"""The one shape of a problem-list asset check result, shared by every layer's checks."""

from __future__ import annotations

from typing import Any

import dagster as dg

MAX_PROBLEMS_SHOWN = 50


def problems_result(problems: list[str], what: str = "problem(s)", **metadata: Any) -> dg.AssetCheckResult:
    """Passed when `problems` is empty; their count in the description, the first 50 in the metadata."""
    return dg.AssetCheckResult(passed=not problems, description=f"{len(problems)} {what}", metadata={
        "problems": dg.MetadataValue.json(problems[:MAX_PROBLEMS_SHOWN]), "problem_count": len(problems), **metadata})
