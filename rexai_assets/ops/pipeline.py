"""`rexai run`: materialise the whole graph on embedded defaults, in dependency order, and summarise it.

Partitioned and unpartitioned assets cannot share one run, so the run is a short sequence: raw tables,
one run per inbox partition, the training chain, one run per target preset, the plan, then one adapter run
per habitat that qualifies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dagster as dg

from rexai_assets.settings import REPO_ROOT


def ensure_dagster_home() -> Path:
    """`DAGSTER_HOME` (default: the repository's ignored `.dagster_home/`), with a dagster.yaml if it has none."""
    from rexai_assets.ops.devserver import write_instance_yaml

    home = Path(os.environ.setdefault("DAGSTER_HOME", str(REPO_ROOT / ".dagster_home")))
    write_instance_yaml(home)
    return home


# Checks on the challenger that the gate repeats as criteria: when they fail and the run went on to a
# proposal, that proposal is a REJECT with their numbers, so the failure is a decision, not an error.
DECISION_CHECKS = frozenset({"rexai_regressor:rexai_regressor_interval_coverage",
                             "rexai_regressor:rexai_regressor_beats_heuristic"})
PROPOSAL_ASSET = "promotion_proposal"


@dataclass
class StepOutcome:
    job: str
    partition: str | None
    success: bool
    run_id: str
    materialized: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    error: str | None = None
    decided_checks: list[str] = field(default_factory=list)  # failed, and turned into a REJECT by the gate

    def line(self) -> str:
        where = f"{self.job}[{self.partition}]" if self.partition else self.job
        status = "ok" if self.success and not self.failed_checks else "FAILED"
        detail = f"{len(self.materialized)} asset(s)"
        if self.failed_checks:
            detail += f", failed checks: {', '.join(self.failed_checks)}"
        if self.decided_checks:
            detail += f", challenger failed: {', '.join(c.split(':')[-1] for c in self.decided_checks)} (see the proposal)"
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
    decided = [c for c in failed if c in DECISION_CHECKS and PROPOSAL_ASSET in materialized]
    return StepOutcome(job_name, partition_key, result.success, result.run_id, materialized,
                       [c for c in failed if c not in decided], None if result.success else first_error(result),
                       decided)


@dataclass
class PlatformRun:
    steps: list[StepOutcome]
    summary: dict[str, Any]
    habitats: list[str] = field(default_factory=list)  # one line per habitat: its adapter's decision, or why none

    @property
    def success(self) -> bool:
        return all(s.success and not s.failed_checks for s in self.steps)


def already_ingested(instance: dg.DagsterInstance, inbox_key: str) -> bool:
    from rexai_assets.loop.sensors import INBOX_KEY_TAG

    runs = instance.get_runs(dg.RunsFilter(tags={INBOX_KEY_TAG: inbox_key}, statuses=[dg.DagsterRunStatus.SUCCESS]),
                             limit=1)
    return bool(runs)


def ingest_inbox(defs: dg.Definitions, instance: dg.DagsterInstance, data: Any) -> list[StepOutcome]:
    """Register every inbox file and ingest each partition whose content was not ingested yet."""
    from rexai_assets.loop.sensors import inbox_run_requests
    from rexai_assets.observations.assets import register_feedback_partitions
    from rexai_assets.observations.inbox import scan_inbox

    scan = scan_inbox(data)
    register_feedback_partitions(instance, scan.feedback_keys)
    steps = []
    for request in inbox_run_requests(scan, known={}):
        if already_ingested(instance, request.run_key):
            continue
        steps.append(run_job(defs, request.job_name, instance, request.partition_key, request.tags))
    return steps


def run_platform(defs: dg.Definitions | None = None, instance: dg.DagsterInstance | None = None,
                 trigger: str = "rexai_run") -> PlatformRun:
    """Everything `rexai run` does, returned rather than printed. Stops at the first failed step."""
    from rexai_assets.paths import layout

    if defs is None:
        from rexai_assets.definitions import build_definitions

        defs = build_definitions()
    data = layout().ensure()
    instance = instance or dg.DagsterInstance.get()
    steps: list[StepOutcome] = []

    def ok() -> bool:
        return all(s.success for s in steps)

    # Observe the raw files first so every table records which file versions it was built from.
    for job in ("observe_raw_files", "raw_job"):
        if ok():
            steps.append(run_job(defs, job, instance))
    if ok():
        steps += ingest_inbox(defs, instance, data)
    if ok():
        steps.append(run_job(defs, "retrain_job", instance, tags={"rexai/trigger": trigger}))
    if ok() and "recommendations_job" in {j.name for j in defs.jobs}:
        from rexai_assets.serving.assets import preset_names, sync_preset_partitions

        for preset in sync_preset_partitions(instance, preset_names(data)):
            steps.append(run_job(defs, "recommendations_job", instance, partition_key=preset,
                                 tags={"rexai/trigger": trigger}))
    if ok() and "plan_job" in {j.name for j in defs.jobs}:
        steps.append(run_job(defs, "plan_job", instance, tags={"rexai/trigger": trigger}))
    habitat_lines: list[str] = []
    if ok() and "habitat_adapter_job" in {j.name for j in defs.jobs}:  # last: a side branch of the shared model
        adapter_steps, habitat_lines = build_adapters(defs, instance, data, trigger)
        steps += adapter_steps
    return PlatformRun(steps, platform_summary(data, instance), habitat_lines)



def adapter_requests(resources: dict[str, Any], instance: dg.DagsterInstance, models_dir: Path,
                     now: datetime) -> dict[str, Any]:
    """Per habitat of habitats.yaml: why it gets no adapter run (a line), or the run request. A habitat with
    fewer than `min_rows` trusted measured rows gets none; the others are asked exactly as
    `habitat_adapter_sensor` asks (habitats/sensors.py `habitat_request`: a first adapter, new rows or a
    new shared champion, within the cost limits of retraining.yaml)."""
    from rexai_assets.evaluation.promotion import ChampionRegistry, promotion_settings
    from rexai_assets.gold.contract import gold_settings
    from rexai_assets.habitat_config import habitats_config
    from rexai_assets.habitats.assets import sync_habitat_partitions
    from rexai_assets.habitats.sensors import habitat_request, new_trusted_rows

    cfg = habitats_config()
    trusted = tuple(gold_settings().labels.trusted_sources)
    champion = ChampionRegistry(resources["mlflow"].client(), promotion_settings()).champion()
    answers: dict[str, Any] = {}
    with resources["warehouse"].connect() as con:   # closed before any adapter run writes the warehouse
        for habitat in sync_habitat_partitions(instance, cfg.ids):
            rows, needed = new_trusted_rows(con, habitat, trusted, None), cfg.adapter_for(habitat).min_rows
            answers[habitat] = (f"no adapter: {rows} of {needed} measured rows" if rows < needed else
                                habitat_request(instance, con, habitat, champion, models_dir, now))
    return answers


def build_adapters(defs: dg.Definitions, instance: dg.DagsterInstance, data: Any,
                   trigger: str) -> tuple[list[StepOutcome], list[str]]:
    """The adapter runs `rexai run` makes (`adapter_requests`), in process, and one line per habitat: the
    habitat gate's decision (a REJECT is a decision: its run succeeds), or why there was no adapter run."""
    from rexai_assets.habitats.assets import HABITAT_JOB
    from rexai_assets.resources import build_resources

    answers = adapter_requests(dict(defs.resources or {}) or build_resources(), instance, data.models,
                               datetime.now(timezone.utc))
    steps, lines = [], []
    for habitat, answer in answers.items():
        if not isinstance(answer, str):
            steps.append(run_job(defs, HABITAT_JOB, instance, answer.partition_key,
                                 {**answer.tags, "rexai/origin": trigger}))
        lines.append(habitat_line(habitat, answer if isinstance(answer, str) else steps[-1], data.models))
    return steps, lines


def habitat_line(habitat: str, answer: str | StepOutcome, models_dir: Path) -> str:
    """`habitat <id>: <decision>` after its adapter run, or why it had none (with its last outcome)."""
    from rexai_assets.habitats.service import read_status

    status = read_status(models_dir, habitat) or {}
    if isinstance(answer, StepOutcome):
        if not answer.success:
            return f"habitat {habitat}: adapter run failed: {answer.error}"
        return f"habitat {habitat}: {'' if status.get('adapter_version') else 'no adapter: '}{status.get('note')}"
    if answer.startswith("no adapter"):
        return f"habitat {habitat}: {answer}"
    return (f"habitat {habitat}: no adapter run now ({answer.removeprefix(f'{habitat}: ')}); "
            f"last: {status.get('note') or 'none'}")


def platform_summary(data: Any, instance: dg.DagsterInstance) -> dict[str, Any]:
    """What a person wants to see after a run: the champion, the last proposal, where things are."""
    summary: dict[str, Any] = {"data_root": str(data.root), "dagster_home": os.environ.get("DAGSTER_HOME")}
    proposal = instance.get_latest_materialization_event(dg.AssetKey(PROPOSAL_ASSET))
    if proposal is not None:
        meta = {k: v.value for k, v in proposal.asset_materialization.metadata.items()}
        summary["last_proposal"] = " ".join(str(meta[k]) for k in ("proposal_id", "recommendation", "status")
                                            if k in meta)
        if meta.get("recommendation") == "REJECT":
            summary["decision"] = rejected_line(meta)
        if "champion_after" in meta:
            summary["champion"] = f"v{meta['champion_after']}"
        if meta.get("calibrated_on"):
            from rexai_assets.models.scorer import calibration_note

            summary["challenger"] = calibration_note(meta["calibrated_on"])
    bundles = sorted(data.bundles.glob("*.zip"), key=lambda p: p.stat().st_mtime)
    if bundles:
        summary["bundle"] = str(bundles[-1])
    summary["warehouse"] = str(data.warehouse)
    summary["mlflow"] = str(data.mlflow)
    summary["rejected_rows_log"] = str(data.ingestion_errors)
    return summary


def rejected_line(meta: dict[str, Any]) -> str:
    """`challenger vN REJECTED: <first failed criterion> (+k more)` from a proposal's metadata."""
    failed = list(meta.get("failed") or [])
    reason = failed[0] + (f" (+{len(failed) - 1} more)" if len(failed) > 1 else "") if failed else "see the proposal"
    return f"challenger v{meta.get('challenger_version', '?')} REJECTED: {reason}"

