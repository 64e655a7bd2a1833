"""Every asset check of the graph, blocking or not, runs and passes on a small throw-away materialisation."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from rexai_assets.ops.checks_run import (CheckReport, collect_evaluations, defined_check_keys, run_all_checks,
                                         small_config_dir)
from rexai_assets.ops.pipeline import run_job


@pytest.mark.integration
def test_all_checks_pass_on_a_small_full_run(tmp_path: Path):
    from rexai_assets.definitions import build_definitions

    report = run_all_checks(tmp_path / "data", tmp_path / "dagster_home", small=True)
    assert report.steps, "the run made no step"
    assert [s.line() for s in report.failed_steps] == []
    assert [e.line() for e in report.failed] == []
    # Independently of the report: at least one evaluation per check the definitions declare.
    evaluated = {e.key for e in report.evaluations}
    missing = sorted(set(defined_check_keys(build_definitions())) - evaluated)
    assert missing == [], f"checks never evaluated: {missing}"
    assert report.ok, report.summary()
    assert report.extra["inbox_files"], "no sample inbox file was written"
    # Every run lives in the check run's own Dagster home.
    assert (tmp_path / "dagster_home" / "history").is_dir()


def _tiny_definitions() -> dg.Definitions:
    @dg.asset(group_name="raw", kinds={"python"})
    def tiny() -> int:
        """A number."""
        return 3

    @dg.asset_check(asset=tiny, blocking=False)
    def tiny_is_even(tiny: int) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=tiny % 2 == 0, severity=dg.AssetCheckSeverity.WARN,
                                   description=f"{tiny} is odd")

    @dg.asset_check(asset=tiny, blocking=True)
    def tiny_is_positive(tiny: int) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=tiny > 0)

    @dg.asset_check(asset=tiny)
    def tiny_never_runs() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    job = dg.define_asset_job("tiny_job", selection=dg.AssetSelection.assets(tiny),
                              executor_def=dg.in_process_executor)
    return dg.Definitions(assets=[tiny], asset_checks=[tiny_is_even, tiny_is_positive, tiny_never_runs], jobs=[job])


def test_a_failing_non_blocking_check_fails_the_report(tmp_path: Path):
    # Dagster reports this run as a success; the report must not.
    defs = _tiny_definitions()
    with dg.DagsterInstance.ephemeral() as instance:
        step = run_job(defs, "tiny_job", instance)
        evaluations = collect_evaluations(instance, [step])
    report = CheckReport([step], evaluations, defined_check_keys(defs), str(tmp_path), str(tmp_path))
    assert step.success
    assert [e.key for e in report.failed] == ["tiny:tiny_is_even"]
    assert report.failed[0].severity == "WARN" and "3 is odd" in report.failed[0].line()
    assert "tiny:tiny_is_positive" in {e.key for e in report.evaluations}
    assert not report.ok and "1 failed: tiny:tiny_is_even" in report.summary()


def test_small_config_changes_only_existing_keys(tmp_path: Path):
    source = tmp_path / "shipped"
    source.mkdir()
    (source / "gold.yaml").write_text("# comment\npool_size: 20000\nseed: 1\n")
    (source / "other.yaml").write_text("a: 1\n")
    target = small_config_dir(tmp_path / "small", {"gold.yaml": {"pool_size": 800, "unknown": 5},
                                                   "missing.yaml": {"x": 1}}, source=source)
    assert yaml.safe_load((target / "gold.yaml").read_text()) == {"pool_size": 800, "seed": 1}
    assert (target / "other.yaml").read_text() == "a: 1\n"
    assert not (target / "missing.yaml").exists()
    assert "pool_size: 20000" in (source / "gold.yaml").read_text()


def test_check_command_exits_non_zero_with_one_line_on_a_non_empty_folder(tmp_path: Path, capsys):
    import argparse

    from rexai_assets.cli import CommandError
    from rexai_assets.cli import ops

    parser = argparse.ArgumentParser(prog="rexai")
    ops.register(parser.add_subparsers(dest="command"))
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    args = parser.parse_args(["check", "--data-root", str(busy)])
    with pytest.raises(CommandError, match="is not empty"):
        args.handler(args)


def test_sample_inbox_follows_the_record_contracts(data_root: Path):
    import json

    import pandas as pd

    from rexai_assets.ops.sample_inbox import TARGETS, write_sample_inbox
    from rexai_assets.paths import layout
    from rexai_assets.recipes import parse_recipe

    files = write_sample_inbox(layout(data_root).ensure(), days=2, rows_per_day=3, feedback_rows=2)
    experiments = pd.concat([pd.read_parquet(p) for p in files if p.name.startswith("experiments_")])
    feedback = pd.read_parquet(next(p for p in files if p.name.startswith("feedback_")))
    assert len(experiments) == 6 and experiments["experiment_id"].is_unique and len(feedback) == 2
    assert {"experiment_id", "recipe_id", "process_id", "recipe_spec", "environment", "operator_id", "started_at",
            "finished_at", "raw_measurements", "verdict", "next_actions", "habitat"} == set(experiments.columns)
    for file in files[:2]:
        day = file.name.split("_")[1]
        assert (experiments.loc[experiments["experiment_id"].isin(pd.read_parquet(file)["experiment_id"]),
                                "finished_at"].dt.strftime("%Y%m%d") == day).all()
    for spec, measured in zip(experiments["recipe_spec"], experiments["raw_measurements"]):
        parse_recipe(json.loads(spec))  # raises with a reason on a malformed recipe
        values = json.loads(measured)
        assert 0 <= values["rigidity"] <= 1 and 0 <= values["tightness"] <= 1
        assert all(values[t] >= 0 for t in TARGETS)
