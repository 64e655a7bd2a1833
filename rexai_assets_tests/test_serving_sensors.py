"""The preset sensor keeps one recommendations partition per preset of raw/targets_presets.json."""

from __future__ import annotations

import json

import dagster as dg

from rexai_assets.paths import layout
from rexai_assets.resources import build_resources
from rexai_assets.serving.assets import PRESET_PARTITIONS, sync_preset_partitions
from rexai_assets.serving.sensors import preset_partitions_sensor


def _requests(result) -> list[tuple[str, list[str]]]:
    assert isinstance(result, dg.SensorResult), result
    return [(type(r).__name__, list(r.partition_keys)) for r in result.dynamic_partitions_requests]


def test_preset_sensor_requests_exactly_the_changes():
    data = layout().ensure()
    instance = dg.DagsterInstance.ephemeral()
    with dg.build_sensor_context(instance=instance, resources=build_resources()) as context:
        assert _requests(preset_partitions_sensor(context)) == [
            ("AddDynamicPartitionsRequest", ["Container", "Utensil", "Interior", "Tool"])]
        sync_preset_partitions(instance, ["Container", "Utensil", "Interior", "Tool"])
        assert isinstance(preset_partitions_sensor(context), dg.SkipReason)

        presets = data.raw / "targets_presets.json"
        rows = [p for p in json.loads(presets.read_text()) if p["name"] != "Utensil"]
        presets.write_text(json.dumps(rows + [{**rows[0], "name": "Shelf"}]))
        assert _requests(preset_partitions_sensor(context)) == [
            ("AddDynamicPartitionsRequest", ["Shelf"]), ("DeleteDynamicPartitionsRequest", ["Utensil"])]

        presets.write_text("not json")
        skipped = preset_partitions_sensor(context)
        assert isinstance(skipped, dg.SkipReason) and "targets_presets.json" in skipped.skip_message
    assert sorted(instance.get_dynamic_partitions(PRESET_PARTITIONS)) == ["Container", "Interior", "Tool", "Utensil"]


def test_preset_sensor_starts_running():
    assert preset_partitions_sensor.default_status == dg.DefaultSensorStatus.RUNNING
