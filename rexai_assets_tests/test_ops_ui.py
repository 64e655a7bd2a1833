"""The UI, proven: `dagster dev` on a free local port loads every group, asset, check, sensor and schedule."""

from __future__ import annotations

import importlib
import importlib.util
import os

import pytest

from rexai_assets.definitions import build_definitions
from rexai_assets.ops.checks_run import platform_environment
from rexai_assets.ops.devserver import DevServerError, dagster_dev, free_port
from rexai_assets.ops.ui import expected_state, ui_problems, ui_state

pytestmark = pytest.mark.integration

# One asset group per layer package; a group is required once its package exists.
EXPECTED_GROUPS = ("raw", "observations", "gold", "models", "evaluation", "serving", "planning")


def required_groups() -> set[str]:
    """Groups whose layer has a `defs` module declaring assets (the wiring convention of the layers)."""
    required = set()
    for group in EXPECTED_GROUPS:
        if importlib.util.find_spec(f"rexai_assets.{group}.defs") is None:
            continue
        if list(importlib.import_module(f"rexai_assets.{group}.defs").defs.assets or []):
            required.add(group)
    return required


@pytest.fixture(scope="module")
def shown_and_expected(tmp_path_factory: pytest.TempPathFactory):
    port = free_port()
    if port is None:
        pytest.skip("no free TCP port can be bound on 127.0.0.1")
    base = tmp_path_factory.mktemp("ui")
    data_root, home = base / "data", base / "dagster_home"
    # The module fixture outlives the per-test environment: pin what the definitions read here.
    with platform_environment(data_root, home):
        expected = expected_state(build_definitions())
    try:
        with dagster_dev(data_root, home, port=port, timeout_s=90) as server:
            shown = ui_state(server.graphql)
    except DevServerError as exc:
        pytest.fail(str(exc))
    # Stopped by its process id: nothing of its process group (webserver, daemon, code server) is left.
    with pytest.raises(ProcessLookupError):
        os.killpg(server.process.pid, 0)
    return shown, expected


def test_groups_match_the_definitions_and_the_layer_packages(shown_and_expected):
    shown, expected = shown_and_expected
    assert shown.groups == expected.groups
    assert required_groups() <= shown.groups, f"missing groups: {sorted(required_groups() - shown.groups)}"
    assert shown.groups <= set(EXPECTED_GROUPS), f"unexpected groups: {sorted(shown.groups - set(EXPECTED_GROUPS))}"


def test_every_asset_and_check_is_loaded_with_description_and_kinds(shown_and_expected):
    shown, expected = shown_and_expected
    assert set(shown.assets) == set(expected.assets)
    assert sum(len(a.checks) for a in shown.assets.values()) == sum(len(a.checks) for a in expected.assets.values())
    assert ui_problems(shown, expected, required_groups()) == []


def test_sensors_and_schedules_are_loaded_and_running(shown_and_expected):
    shown, expected = shown_and_expected
    assert set(shown.sensors) == set(expected.sensors)
    assert set(shown.schedules) == set(expected.schedules)
    assert shown.sensors or shown.schedules, "no sensor or schedule loaded at all"
    not_running = {n: s for n, s in {**shown.sensors, **shown.schedules}.items() if s != "RUNNING"}
    assert not_running == {}


def test_ui_problems_reports_what_is_missing():
    # The comparison itself must be able to fail.
    from rexai_assets.ops.ui import AssetView, UiState

    want = UiState(assets={"a": AssetView("raw", "A table.", ("pandas",), True, frozenset({"row_count"}))},
                   sensors={"s": "RUNNING"})
    got = UiState(assets={"a": AssetView("raw", "", (), True, frozenset())}, sensors={"s": "STOPPED"})
    problems = ui_problems(got, want, {"raw", "gold"})
    assert any("group 'gold'" in p for p in problems)
    assert any("checks ['row_count']" in p for p in problems)
    assert any("no description" in p for p in problems) and any("no kinds" in p for p in problems)
    assert any("sensor s is STOPPED" in p for p in problems)


def test_exec_wrapper_restores_sigint_that_the_parent_ignored():
    import subprocess
    import sys

    # A shell job or CI runner may start us with SIGINT ignored; exec keeps that, the wrapper undoes it.
    probe = "import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"
    launcher = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                "os.execvp(sys.argv[1], sys.argv[1:])")
    plain = [sys.executable, "-c", launcher, sys.executable, "-c", probe]
    wrapped = [sys.executable, "-c", launcher, sys.executable, "-m", "rexai_assets.ops.exec_default_signals",
               sys.executable, "-c", probe]
    assert subprocess.run(plain, capture_output=True, text=True, check=True).stdout.strip() == "True"
    assert subprocess.run(wrapped, capture_output=True, text=True, check=True).stdout.strip() == "False"
