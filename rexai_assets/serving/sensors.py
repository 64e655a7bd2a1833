"""The serving sensor: one `recipe_recommendations` partition per preset of raw/targets_presets.json."""

import dagster as dg

from rexai_assets.resources import RexaiStorage
from rexai_assets.serving.assets import preset_names, preset_partition_changes, preset_partitions

PRESETS_INTERVAL_S = 30


def preset_partition_requests(instance: dg.DagsterInstance, names: list[str]) -> list:
    """The add / delete requests that make the preset partitions equal to `names` (none when they already are)."""
    added, removed = preset_partition_changes(instance, names)
    requests = [preset_partitions.build_add_request(added)] if added else []
    return requests + ([preset_partitions.build_delete_request(removed)] if removed else [])


@dg.sensor(minimum_interval_seconds=PRESETS_INTERVAL_S, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Keeps one recipe_recommendations partition per preset of raw/targets_presets.json.")
def preset_partitions_sensor(context: dg.SensorEvaluationContext, storage: RexaiStorage):
    from rexai_assets.raw.tables import RawFileError

    try:
        names = preset_names(storage.layout)
    except RawFileError as exc:  # the target_presets asset reports the broken file; keep the partitions
        return dg.SkipReason(f"presets not read: {exc}")
    requests = preset_partition_requests(context.instance, names)
    if not requests:
        return dg.SkipReason("the preset partitions match raw/targets_presets.json")
    context.log.info(f"preset partitions: {requests}")
    return dg.SensorResult(dynamic_partitions_requests=requests)
