"""The raw group under Dagster: every check passes on the shipped data, rejections reach the log,
and editing a raw file makes the assets built from it stale."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from rexai_assets.raw.defs import defs as raw_defs
from rexai_assets.definitions import build_definitions
from rexai_assets.paths import layout
from rexai_assets.ops.pipeline import run_job


@pytest.fixture
def resources_for_test():
    from rexai_assets.resources import build_resources

    return build_resources()


def test_raw_group_materialises_with_every_check_passing(resources_for_test):
    result = dg.materialize([*raw_defs.assets, *raw_defs.asset_checks], instance=dg.DagsterInstance.ephemeral(),
                            resources=resources_for_test, selection=dg.AssetSelection.groups("raw").materializable())
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    expected_checks = {(c.asset_key.to_user_string(), c.name) for spec in raw_defs.asset_checks for c in spec.check_specs}
    assert {(e.asset_key.to_user_string(), e.check_name) for e in evaluations} == expected_checks
    assert [e.check_name for e in evaluations if not e.passed] == []
    inventory = result.output_for_node("waste_inventory")
    assert len(inventory) == 16
    metadata = result.asset_materializations_for_node("waste_inventory")[0].metadata
    assert metadata["dagster/row_count"].value == 16 and metadata["rejected_rows"].value == 0


def test_bad_rows_are_logged_and_good_rows_published(resources_for_test):
    data = layout().ensure()
    inventory = data.raw / "nasa_waste_inventory.csv"
    inventory.write_text(inventory.read_text().replace("Nylon 41%; Polyethylene 33%; EVOH 11%", "Nylon 140%"))
    result = dg.materialize([*raw_defs.assets, *raw_defs.asset_checks], instance=dg.DagsterInstance.ephemeral(),
                            resources=resources_for_test, selection=dg.AssetSelection.groups("raw").materializable())
    assert result.success
    assert len(result.output_for_node("waste_inventory")) == 15
    logged = [json.loads(line) for line in data.ingestion_errors.read_text().splitlines()]
    assert [(r["source_file"], r["line"], r["column"], r["value"]) for r in logged] == [
        ("nasa_waste_inventory.csv", 8, "key_materials", "Nylon 140%")]
    assert logged[0]["run_id"] == result.run_id and "outside (0, 100]" in logged[0]["reason"]


def test_unreadable_file_fails_its_asset_with_one_line(resources_for_test):
    data = layout().ensure()
    (data.raw / "process_catalog.csv").write_bytes(b"\x00\x01\x02binary")
    result = dg.materialize([*raw_defs.assets], instance=dg.DagsterInstance.ephemeral(), resources=resources_for_test,
                            selection=dg.AssetSelection.assets("process_catalog"), raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_failure_data.user_failure_data.description == "process_catalog.csv: binary file, not a text table"
    logged = [json.loads(line) for line in data.ingestion_errors.read_text().splitlines()]
    assert logged[-1]["source_file"] == "process_catalog.csv" and logged[-1]["line"] is None


def test_editing_a_raw_csv_makes_its_assets_stale():
    # The resolver the UI uses for its "stale" badge (internal API, hence the test-only loading context).
    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
    from dagster._core.loader import LoadingContextForTest

    layout().ensure()
    defs = build_definitions()
    instance = dg.DagsterInstance.get()
    assert run_job(defs, "observe_raw_files", instance).success
    assert run_job(defs, "raw_job", instance).success

    def status(key: str) -> StaleStatus:
        resolver = CachingStaleStatusResolver(instance, defs.resolve_asset_graph(), LoadingContextForTest(instance))
        return resolver.get_status(dg.AssetKey(key))

    assert status("process_catalog") == StaleStatus.FRESH
    catalog = layout().raw / "process_catalog.csv"
    catalog.write_text(catalog.read_text().replace("0.55", "0.56"))
    assert run_job(defs, "observe_raw_files", instance).success
    assert status("process_catalog") == StaleStatus.STALE
    assert status("waste_inventory") == StaleStatus.FRESH


def test_raw_file_sensor_observes_only_changed_files():
    layout().ensure()
    defs = build_definitions()
    sensor = defs.get_sensor_def("raw_files_sensor")
    with dg.build_sensor_context(resources=defs.resources) as context:
        first = sensor(context)
        from rexai_assets.raw.assets import SOURCE_FILES

        assert len(first.asset_selection) == len(SOURCE_FILES)
        context.update_cursor(context.cursor)
        assert isinstance(sensor(context), dg.SkipReason)
        catalog = layout().raw / "process_catalog.csv"
        catalog.write_text(catalog.read_text() + "\n")
        again = sensor(context)
        assert again.asset_selection == [dg.AssetKey(["raw_files", "process_catalog"])]
