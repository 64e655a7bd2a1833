"""One champion everywhere: whichever door moves the `champion` alias (auto-promotion, `rexai approve`,
`rexai rollback`), `champion_bundle_sensor` re-seals the bundle and the recommendations follow by
declarative automation, so the bundle and every preset's recommendations come from the champion."""

from __future__ import annotations

import zipfile

import dagster as dg
import pytest

from rexai_assets.cli import main as rexai
from rexai_assets.ops.pipeline import run_job
from rexai_assets.serving.bundle import verify_bundle

from rexai_assets_tests.loop_support import make_platform, shrink
from rexai_assets_tests.test_evaluation_promotion import make_proposal

pytestmark = pytest.mark.slow

SENSOR = "champion_bundle_sensor"
RECOMMENDATIONS = dg.AssetKey("recipe_recommendations")


@pytest.fixture
def platform(config_override):
    """A bootstrapped small platform (v1 auto-promoted by its retrain) plus v2: the same artefacts registered again."""
    shrink(config_override)
    platform = make_platform()
    platform.bootstrap()
    client = platform.defs.resources["mlflow"].client()
    v1 = client.get_model_version("rexai", "1")
    client.create_model_version("rexai", source=v1.source, run_id=v1.run_id)
    return platform


def recommended_versions(platform) -> dict[str, str]:
    """The model version behind the latest recommendations of each preset."""
    versions = {}
    for preset in platform.instance.get_dynamic_partitions("target_presets"):
        records = platform.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=RECOMMENDATIONS, asset_partitions=[preset]), limit=1).records
        versions[preset] = str(records[0].asset_materialization.metadata["model_version"].value)
    return versions


def sealed_bundle_version(platform) -> str:
    event = platform.instance.get_latest_materialization_event(dg.AssetKey("model_bundle"))
    return str(event.asset_materialization.metadata["model_version"].value)


def automation(platform, cursor=None):
    return dg.evaluate_automation_conditions(platform.defs, platform.instance,
                                             asset_selection=dg.AssetSelection.assets(RECOMMENDATIONS), cursor=cursor)


def follow_the_champion(platform, cursor):
    """What the daemon does: the sensor's run, then the recommendation runs the automation requests."""
    request, _ = platform.tick(SENSOR)
    assert isinstance(request, dg.RunRequest), request
    assert request.tags["rexai/champion"] == platform.champion()
    assert platform.execute(request).success
    after, _ = platform.tick(SENSOR)
    assert isinstance(after, dg.SkipReason) and "holds v" in after.skip_message
    result = automation(platform, cursor)
    presets = sorted(result.get_requested_partitions(RECOMMENDATIONS))
    assert presets == sorted(platform.instance.get_dynamic_partitions("target_presets"))
    for preset in presets:
        assert run_job(platform.defs, "recommendations_job", platform.instance, preset).success
    return automation(platform, result.cursor).cursor  # the daemon's next tick: the refreshed partitions seen


def assert_everywhere(platform, version: str) -> None:
    assert platform.champion() == version and sealed_bundle_version(platform) == version
    bundles = sorted(platform.data.bundles.glob(f"rexai-v{version}-*.zip"))
    assert len(bundles) == 1 and verify_bundle(bundles[0]).ok
    with zipfile.ZipFile(bundles[0]) as archive:
        assert b'"version": "' + version.encode() + b'"' in archive.read("metadata.json")
    assert set(recommended_versions(platform).values()) == {version}


def test_auto_promotion_reseals_and_refreshes(platform):
    # The bootstrap retrain auto-promoted v1 and sealed it in the same run: nothing left for the sensor.
    skip, _ = platform.tick(SENSOR)
    assert isinstance(skip, dg.SkipReason) and skip.skip_message.startswith("the sealed bundle holds v1")
    assert_everywhere(platform, "1")
    proposal = platform.instance.get_latest_materialization_event(dg.AssetKey("promotion_proposal"))
    page = proposal.asset_materialization.metadata["review_page"].value  # the second vote's page, in the UI
    assert "### Criteria" in page and "| raw file nasa_waste_inventory.csv |" in page
    cursor = automation(platform).cursor
    outcome = platform.desk().record(make_proposal("PROMOTE", "2", "1"), mode="auto")
    assert outcome.action == "auto_promote"
    follow_the_champion(platform, cursor)
    assert_everywhere(platform, "2")


def test_rexai_approve_reseals_and_refreshes(platform, capsys):
    cursor = automation(platform).cursor
    proposal = make_proposal("REVIEW", "2", "1")
    platform.desk().record(proposal, mode="auto")
    skip, _ = platform.tick(SENSOR)
    assert isinstance(skip, dg.SkipReason)  # a pending proposal moves nothing
    assert rexai(["approve", proposal.proposal_id, "--reviewer", "ana"]) == 0
    follow_the_champion(platform, cursor)
    assert_everywhere(platform, "2")


def test_rexai_rollback_reseals_and_refreshes(platform):
    first_bundle = next(platform.data.bundles.glob("rexai-v1-*.zip")).read_bytes()
    platform.desk().record(make_proposal("PROMOTE", "2", "1"), mode="auto")
    cursor = follow_the_champion(platform, automation(platform).cursor)
    assert rexai(["rollback", "--reviewer", "ana"]) == 0
    follow_the_champion(platform, cursor)
    assert_everywhere(platform, "1")
    # A champion that comes back keeps the bundle it was sealed with, byte for byte.
    assert next(platform.data.bundles.glob("rexai-v1-*.zip")).read_bytes() == first_bundle
