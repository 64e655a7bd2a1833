"""`rexai run`: materialise the whole graph on embedded defaults, in dependency order, and summarise it.

Partitioned and unpartitioned assets cannot share one run, so the run is a short sequence: raw tables,
one run per inbox partition, the training chain, one run per target preset.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from rexai_assets.settings import REPO_ROOT


def ensure_dagster_home() -> Path:
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(REPO_ROOT / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    return home


@dataclass
class StepOutcome:
    job: str
    partition: str | None
    success: bool
    run_id: str
    materialized: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    error: str | None = None

    def line(self) -> str:
        where = f"{self.job}[{self.partition}]" if self.partition else self.job
        status = "ok" if self.success and not self.failed_checks else "FAILED"
        detail = f"{len(self.materialized)} asset(s)"
        if self.failed_checks:
            detail += f", failed checks: {', '.join(self.failed_checks)}"
        if self.error:
            detail += f" — {self.error}"
        return f"{status:6} {where}: {detail}"


def first_error(result: dg.ExecuteInProcessResult) -> str | None:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            # A dg.Failure carries its one-line description in user_failure_data
            user = event.step_failure_data.user_failure_data
            message = (user.description if user and user.description else error.message).strip()
            return f"{event.step_key}: {message.splitlines()[0]}"
    return None


def run_job(defs: dg.Definitions, job_name: str, instance: dg.DagsterInstance,
            partition_key: str | None = None, tags: dict[str, str] | None = None) -> StepOutcome:
    job = defs.resolve_job_def(job_name)
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    result = job.execute_in_process(instance=instance, partition_key=partition_key, tags=tags or {},
                                    run_config=quiet, raise_on_error=False)
    materialized = sorted({e.asset_key.to_user_string() for e in result.get_asset_materialization_events()})
    failed = sorted(f"{e.asset_key.to_user_string()}:{e.check_name}"
                    for e in result.get_asset_check_evaluations() if not e.passed)
    return StepOutcome(job_name, partition_key, result.success, result.run_id, materialized, failed,
                       None if result.success else first_error(result))


@dataclass
class PlatformRun:
    steps: list[StepOutcome]
    summary: dict[str, Any]

    @property
    def success(self) -> bool:
        return all(s.success and not s.failed_checks for s in self.steps)


def run_platform(defs: dg.Definitions | None = None, instance: dg.DagsterInstance | None = None) -> PlatformRun:
    """Everything `rexai run` does, returned rather than printed."""
    from rexai_assets.paths import layout

    if defs is None:
        from rexai_assets.definitions import build_definitions

        defs = build_definitions()
    data = layout().ensure()
    instance = instance or dg.DagsterInstance.get()
    # Observe the raw files first so every table records which file versions it was built from.
    steps = [run_job(defs, "observe_raw_files", instance), run_job(defs, "raw_job", instance)]
    summary = {"data_root": str(data.root), "dagster_home": os.environ.get("DAGSTER_HOME")}
    return PlatformRun(steps, summary)
