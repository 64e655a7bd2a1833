"""Every unpartitioned asset job runs under the multiprocess executor on a persistent instance.

Each step runs in its own process that rebuilds the definitions, so a step that kept state in memory,
or read an input other than through its IO manager or the warehouse, fails here.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from rexai_assets.ops.checks_run import small_config_dir
from rexai_assets.ops.devserver import write_instance_yaml
from rexai_assets_tests import _mp_target

pytestmark = pytest.mark.integration

# forkserver with preloaded modules: every step still gets a fresh process of its own, but forked from a
# warm server instead of importing the libraries again (seconds per step).
PRELOAD_MODULES = ["dagster._core.executor.multiprocess", "rexai_assets.definitions", "pandas", "pyarrow", "pandera.pandas",
                   "sklearn.ensemble", "torch", "great_expectations", "mlflow", "duckdb", "matplotlib.pyplot"]
MULTIPROCESS = {"execution": {"config": {"multiprocess": {
                    "max_concurrent": 2, "start_method": {"forkserver": {"preload_modules": PRELOAD_MODULES}}}}},
                "loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def test_unpartitioned_jobs_run_with_the_multiprocess_executor(data_root: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch):
    from rexai_assets import settings
    from rexai_assets.definitions import build_definitions

    monkeypatch.setenv("REXAI_CONFIG_DIR", str(small_config_dir(tmp_path / "config")))
    settings.clear_cache()
    home = Path(os.environ["DAGSTER_HOME"])
    write_instance_yaml(home)
    names = _mp_target.unpartitioned_asset_jobs(build_definitions())
    assert "raw_job" in names
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert not instance.is_ephemeral
        for name in names:
            with dg.execute_job(_mp_target.reconstructable(name), instance=instance, run_config=MULTIPROCESS,
                                raise_on_error=False) as result:
                events = result.all_events
                failures = [f"{e.step_key}: {e.step_failure_data.error.message.splitlines()[0]}"
                            for e in events if e.is_step_failure and e.step_failure_data.error]
                assert result.success, f"{name} failed under the multiprocess executor: {failures}"
                starts = [e for e in events if e.event_type == dg.DagsterEventType.STEP_START]
                # Every step ran in a child process of its own, never in this one.
                step_pids = {e.pid for e in starts}
                assert os.getpid() not in step_pids, name
                assert len(step_pids) == len(starts), f"{name}: steps shared a process"
                checks = [e.event_specific_data for e in events
                          if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION]
                assert [f"{c.asset_key.to_user_string()}:{c.check_name}" for c in checks if not c.passed] == []
                loaded = [e for e in events if e.event_type == dg.DagsterEventType.LOADED_INPUT]
                if len(starts) > 1 and any(e.step_key for e in loaded):
                    # Inputs crossed process boundaries through the IO manager.
                    assert all(e.event_specific_data.manager_key for e in loaded)
        runs = instance.get_runs()
    assert {r.job_name for r in runs} >= set(names)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    # The runs are in the persistent home, not in memory.
    assert (home / "history" / "runs.db").exists()
