"""The raw jobs, and the sensor that observes edited raw files so the UI marks what was built from them stale."""

import json

import dagster as dg

from rexai_assets.raw.assets import RAW_SOURCES, source_key
from rexai_assets.raw.specs import SOURCE_FILES
from rexai_assets.resources import RexaiStorage

observe_raw_files = dg.define_asset_job(
    "observe_raw_files", selection=dg.AssetSelection.assets(*[s.key for s in RAW_SOURCES]),
    description="Record the current sha256 of every shipped raw file as its data version.")

raw_job = dg.define_asset_job(
    "raw_job", selection=dg.AssetSelection.groups("raw").materializable(),
    description="Observe the shipped raw files and rebuild the validated raw tables.")


def raw_file_hashes(raw_dir) -> dict[str, str]:
    from rexai_assets.hashing import sha256_file

    return {f: sha256_file(raw_dir / f) for f in SOURCE_FILES if (raw_dir / f).exists()}


@dg.sensor(job=observe_raw_files, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def raw_files_sensor(context: dg.SensorEvaluationContext, storage: RexaiStorage):
    """Observe the raw sources whenever a shipped file's content hash changes."""
    hashes = raw_file_hashes(storage.layout.raw)
    previous = json.loads(context.cursor) if context.cursor else {}
    changed = sorted(f for f, h in hashes.items() if previous.get(f) != h)
    if not changed:
        return dg.SkipReason("no raw file changed")
    context.update_cursor(json.dumps(hashes, sort_keys=True))
    return dg.RunRequest(run_key=None, asset_selection=[source_key(f) for f in changed],
                         tags={"rexai/trigger": "raw_file_changed", "rexai/changed_files": ",".join(changed)[:200]})
