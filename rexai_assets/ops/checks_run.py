"""The all-checks run: materialise the whole graph into a throw-away root and collect EVERY check evaluation.

A non-blocking check that fails does not fail a Dagster run, so run success is not enough: this reads
every `ASSET_CHECK_EVALUATION` event back from the instance and fails on any `passed=False`, on any
failed step, and on any check defined in the code that never ran. The runner is `pipeline.run_platform`,
the same sequence of jobs `rexai run` uses.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

from rexai_assets import settings

# Smaller sizes for a check run. Only keys that the shipped file already has are changed, so a knob
# that a layer renames or drops never makes its strict config model reject the file.
SMALL_OVERRIDES: dict[str, dict[str, Any]] = {
    "gold.yaml": {"pool_size": 800},
    "models.yaml": {"profile": "small", "threads": 1},
}


@dataclass(frozen=True)
class CheckEvaluation:
    asset: str
    check: str
    passed: bool
    severity: str
    run_id: str
    job: str
    partition: str | None
    description: str | None

    @property
    def key(self) -> str:
        return f"{self.asset}:{self.check}"

    def line(self) -> str:
        where = f"{self.job}[{self.partition}]" if self.partition else self.job
        status = "pass" if self.passed else ("WARN" if self.severity == "WARN" else "FAIL")
        detail = f" — {self.description.strip().splitlines()[0]}" if self.description and not self.passed else ""
        return f"{status:4} {self.key} ({where}){detail}"


@dataclass
class CheckReport:
    """Every step the run made, every check evaluation it produced, and every check the code defines."""

    steps: list[Any]  # pipeline.StepOutcome
    evaluations: list[CheckEvaluation]
    defined_checks: tuple[str, ...]
    data_root: str
    dagster_home: str
    extra: dict[str, Any] = field(default_factory=dict)
    # Materialisable assets of the definitions; empty when unknown.
    defined_assets: tuple[str, ...] = ()

    @property
    def not_materialized(self) -> list[str]:
        """Assets the run never built (reported; their checks, if any, count as never evaluated)."""
        built = {key for step in self.steps for key in getattr(step, "materialized", [])}
        return [a for a in self.defined_assets if a not in built]

    @property
    def failed(self) -> list[CheckEvaluation]:
        return [e for e in self.evaluations if not e.passed]

    @property
    def not_evaluated(self) -> list[str]:
        seen = {e.key for e in self.evaluations}
        return [c for c in self.defined_checks if c not in seen]

    @property
    def failed_steps(self) -> list[Any]:
        return [s for s in self.steps if not s.success]

    @property
    def ok(self) -> bool:
        return bool(self.steps) and not self.failed and not self.not_evaluated and not self.failed_steps

    def summary(self) -> str:
        """One line: what ran and the first reason it is not green."""
        head = (f"{len(self.evaluations)} evaluation(s) of {len(self.defined_checks)} check(s) "
                f"in {len(self.steps)} run(s)")
        if self.ok:
            skipped = f" (never materialised: {', '.join(self.not_materialized)})" if self.not_materialized else ""
            return f"all checks passed: {head}{skipped}"
        if self.failed_steps:
            step = self.failed_steps[0]
            where = f"{step.job}[{step.partition}]" if step.partition else step.job
            return f"{head}; run {where} failed: {step.error or 'see the run log'}"
        if self.failed:
            return f"{head}; {len(self.failed)} failed: {', '.join(sorted({e.key for e in self.failed}))}"
        return f"{head}; never evaluated: {', '.join(self.not_evaluated)}"

    def lines(self) -> list[str]:
        out = [step.line() for step in self.steps]
        out += [e.line() for e in sorted(self.evaluations, key=lambda e: (e.passed, e.key, e.partition or ""))]
        out += [f"MISS {key} (defined but never evaluated)" for key in self.not_evaluated]
        out += [f"SKIP {key} (asset never materialised by the run)" for key in self.not_materialized]
        return out


def small_config_dir(target: Path, overrides: dict[str, dict[str, Any]] = SMALL_OVERRIDES,
                     source: Path | None = None) -> Path:
    """Copy config/ to `target` and shrink sizes there (the shipped config/ is never touched)."""
    source = source or settings.config_dir()
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    for name, values in overrides.items():
        path = target / name
        if not path.exists():
            continue
        data = yaml.safe_load(path.read_text()) or {}
        path.write_text(yaml.safe_dump(settings.deep_merge(data, values, existing_only=True), sort_keys=False))
    return target


@contextmanager
def platform_environment(data_root: Path, dagster_home: Path, config_dir: Path | None = None) -> Iterator[None]:
    """Point REXAI_DATA_ROOT, DAGSTER_HOME (and REXAI_CONFIG_DIR) at the given folders, then restore them."""
    wanted = {"REXAI_DATA_ROOT": str(data_root), "DAGSTER_HOME": str(dagster_home)}
    if config_dir is not None:
        wanted["REXAI_CONFIG_DIR"] = str(config_dir)
    previous = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    settings.clear_cache()
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        settings.clear_cache()


def collect_evaluations(instance: Any, steps: list[Any]) -> list[CheckEvaluation]:
    """Every asset check evaluation recorded by the runs of `steps`, read back from the instance."""
    import dagster as dg

    evaluations = []
    for step in steps:
        if not step.run_id:
            continue
        for entry in instance.all_logs(step.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            data = entry.dagster_event.event_specific_data
            evaluations.append(CheckEvaluation(
                asset=data.asset_key.to_user_string(), check=data.check_name, passed=bool(data.passed),
                severity=data.severity.value, run_id=step.run_id, job=step.job,
                partition=getattr(data, "partition", None) or step.partition, description=data.description))
    return evaluations


def defined_asset_keys(defs: Any) -> tuple[str, ...]:
    graph = defs.resolve_asset_graph()
    return tuple(sorted(k.to_user_string() for k in graph.materializable_asset_keys))


def defined_check_keys(defs: Any) -> tuple[str, ...]:
    graph = defs.resolve_asset_graph()
    return tuple(sorted(f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys))


def run_all_checks(data_root: str | Path, dagster_home: str | Path, small: bool = True,
                   seed_inbox: bool = True) -> CheckReport:
    """Materialise the whole graph into `data_root` / `dagster_home` and report every check evaluation.

    `small` runs on a shrunk copy of config/ (placed in `dagster_home`); `seed_inbox` drops a few sample
    experiment and feedback files in the inbox first so the observation partitions run too.
    """
    import dagster as dg

    from rexai_assets.ops.devserver import write_instance_yaml
    from rexai_assets.paths import layout

    data_root, dagster_home = Path(data_root).resolve(), Path(dagster_home).resolve()
    write_instance_yaml(dagster_home)
    config_dir = small_config_dir(dagster_home / "rexai_config") if small else None
    with platform_environment(data_root, dagster_home, config_dir):
        from rexai_assets.definitions import build_definitions
        from rexai_assets.ops.pipeline import run_platform

        data = layout(data_root).ensure()
        extra: dict[str, Any] = {}
        if seed_inbox:
            from rexai_assets.ops.sample_inbox import write_sample_inbox

            extra["inbox_files"] = [p.name for p in write_sample_inbox(data)]
        defs = build_definitions()
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            outcome = run_platform(defs, instance)
            evaluations = collect_evaluations(instance, outcome.steps)
        extra.update(outcome.summary)
        return CheckReport(outcome.steps, evaluations, defined_check_keys(defs), str(data_root),
                           str(dagster_home), extra, defined_asset_keys(defs))
