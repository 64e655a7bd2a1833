"""Optional: the raw group runs on a Dagster instance configured by deploy/dagster.yaml, in a throw-away PostgreSQL."""

from __future__ import annotations

import contextlib
import shutil

import dagster as dg
import pytest

from rexai_assets.ops.throwaway_postgres import PostgresUnavailable, find_binaries, throwaway_postgres
from rexai_assets.settings import REPO_ROOT

pytestmark = pytest.mark.integration


def test_raw_group_on_a_postgres_backed_instance(data_root, tmp_path, monkeypatch):
    if not find_binaries():
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl, postgres) are not installed")
    from rexai_assets.definitions import build_definitions

    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(throwaway_postgres())
        except PostgresUnavailable as exc:
            pytest.skip(f"cannot start a throw-away PostgreSQL here: {exc}")
        # The deployment's own instance file, pointed at this server through its environment variables.
        for key, value in server.dagster_env().items():
            monkeypatch.setenv(key, value)
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copy(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            result = build_definitions().resolve_job_def("raw_job").execute_in_process(instance=instance)
            assert result.success
            assert all(e.passed for e in result.get_asset_check_evaluations())
            assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS
        # Straight from the database: the run, its events and its check evaluations are there.
        conn = stack.enter_context(contextlib.closing(server.connect()))
        with conn.cursor() as cur:
            cur.execute("SELECT status, pipeline_name FROM runs WHERE run_id = %s", (result.run_id,))
            assert cur.fetchall() == [("SUCCESS", "raw_job")]
            cur.execute("SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
                        (result.run_id, "ASSET_MATERIALIZATION"))
            assert cur.fetchone()[0] == len(result.get_asset_materialization_events()) > 0
            cur.execute("SELECT count(*) FROM asset_check_executions WHERE run_id = %s", (result.run_id,))
            assert cur.fetchone()[0] == len(result.get_asset_check_evaluations())
