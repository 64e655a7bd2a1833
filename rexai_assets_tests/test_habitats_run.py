"""`rexai run` builds the habitat adapters: one adapter run per habitat with `min_rows` trusted measured rows,
asked as `habitat_adapter_sensor` asks (cost limits included), one line per habitat, and an adapter REJECTED
by its habitat gate is a decision: the run exits 0."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rexai_assets.gold.contract import feature_names
from rexai_assets.loop.realities import make_reality
from rexai_assets.loop.synthetic import experiment_records, fresh_recipes, noisy_labels, utc_today, write_experiments

from rexai_assets_tests.loop_support import make_platform, shrink

pytestmark = pytest.mark.slow


def test_rexai_run_builds_the_adapters_of_qualifying_habitats(config_override, capsys):
    from rexai_assets.cli import main
    from rexai_assets.habitats.store import habitat_proposals
    from rexai_assets.models.adapters import CHAMPION, registered_name
    from rexai_assets.models.registry import get_alias_version
    from rexai_assets.ops.pipeline import build_adapters

    shrink(config_override)
    platform = make_platform()
    platform.bootstrap()                                             # a shared champion from simulation
    assert platform.champion() == "1"
    recipes = fresh_recipes(platform.tables(), 72, seed=303)
    labels = noisy_labels(make_reality(1).truth(recipes[list(feature_names())]).reset_index(drop=True), seed=3)
    records = experiment_records(recipes, labels, utc_today() - timedelta(days=3), per_day=36)
    records["habitat"] = ["jezero"] * 60 + ["gale"] * 12          # 60 >= min_rows 50 > 12; utopia has none
    write_experiments(platform.data, records)

    assert main(["run"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("habitat ")]
    assert lines[1:] == ["habitat gale: no adapter: 12 of 50 measured rows",
                         "habitat utopia: no adapter: 0 of 50 measured rows"], out
    # Jezero's golden slice holds about 12 of its 60 rows, fewer than the 20 that decide a target: the habitat
    # gate rejects the adapter, and that is a decision, not a failed run.
    champion = platform.champion()                                   # v2 if the retrain on the lab rows promoted
    assert lines[0].startswith(f"habitat jezero: adapter v1 (on shared v{champion}) REJECTED by the habitat gate: "), out
    assert "ok     habitat_adapter_job[jezero]: 1 asset(s)" in out and "habitat_adapter_job[gale]" not in out
    with platform.desk().connect() as con:
        proposals = habitat_proposals(con)
    assert proposals[["habitat", "recommendation", "status", "trigger"]].values.tolist() == [
        ["jezero", "REJECT", "REJECTED", "habitat_first_adapter"]]
    client = platform.defs.resources["mlflow"].client()
    assert get_alias_version(client, CHAMPION, registered_name("jezero")) is None

    # The next run asks again the way the sensor does: within the cooldown, no adapter run, and it says why.
    steps, again = build_adapters(platform.defs, platform.instance, platform.data, "rexai_run")
    assert steps == [] and again[1:] == lines[1:]
    assert again[0].startswith("habitat jezero: no adapter run now (cooldown, last adapter run ")
    assert again[0].endswith(f"; last: {lines[0].removeprefix('habitat jezero: ')}")
