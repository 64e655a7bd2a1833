"""The gold group under Dagster: materialises with every check passing, writes warehouse tables,
parquet, lineage and Data Docs; a failing blocking check stops downstream."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import pandas as pd
import pytest

from rexai_assets.gold.defs import defs as gold_defs
from rexai_assets.raw.defs import defs as raw_defs
from rexai_assets.gold.contract import TARGETS
from rexai_assets.paths import layout


@pytest.fixture
def small_gold(config_override):
    config_override("gold.yaml", {"pool_size": 400})


def materialize_gold(**kwargs):
    from rexai_assets.resources import build_resources

    return dg.materialize([*raw_defs.assets, *gold_defs.assets, *gold_defs.asset_checks], instance=dg.DagsterInstance.ephemeral(),
                          resources=build_resources(),
                          selection=dg.AssetSelection.groups("raw", "gold").materializable(), **kwargs)


def test_gold_group_materialises_with_every_check_passing(small_gold):
    result = materialize_gold()
    assert result.success
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    expected = {(c.asset_key.to_user_string(), c.name) for check in gold_defs.asset_checks for c in check.check_specs}
    assert expected <= set(evaluations)
    assert [name for name, e in evaluations.items() if not e.passed] == []

    pool = result.output_for_node("recipe_candidates_pool")
    dataset = result.output_for_node("gold_dataset")
    assert len(pool) == 400 and len(dataset.frame) == 400     # no observations table yet: simulated only
    assert dataset.target_names == TARGETS

    metadata = result.asset_materializations_for_node("gold_dataset")[0].metadata
    assert metadata["dataset_hash"].value == dataset.dataset_hash
    lineage = metadata["lineage"].value
    assert lineage["feature_order_hash"] == dataset.feature_order_hash
    assert "nasa_waste_inventory.csv" in lineage["raw_files"] and "materials/hdpe_properties.csv" in lineage["raw_files"]

    data = layout()
    assert json.loads((data.gold / "lineage.json").read_text())["dataset_hash"] == dataset.dataset_hash
    assert len(pd.read_parquet(data.gold / "dataset.parquet")) == 400
    with duckdb.connect(str(data.warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM gold.dataset").fetchone()[0] == 400
        assert con.execute("SELECT count(*) FROM gold.candidates").fetchone()[0] == 400
    gx_eval = evaluations[("gold_dataset", "gold_great_expectations")]
    docs = gx_eval.metadata["data_docs"].value
    assert docs.startswith(str(data.docs)) and (data.docs / "great_expectations" / "index.html").exists()
    assert gx_eval.metadata["validation"].value["gold_dataset"]["statistics"]["unsuccessful_expectations"] == 0


def test_measurements_in_the_warehouse_reach_the_gold_dataset(small_gold):
    first = materialize_gold()
    pool = first.output_for_node("recipe_candidates_pool").head(30)
    data = layout()
    with duckdb.connect(str(data.warehouse)) as con:
        con.execute("CREATE SCHEMA observations")
        rows = pd.DataFrame({
            "observation_id": [f"E{i}" for i in range(30)], "kind": "experiment", "recipe_id": pool["recipe_id"],
            "recipe_spec": pool["recipe_spec"], "process_id": pool["process_id"], "label_source": "lab",
            "observed_at": pd.Timestamp("2026-02-01"), "rigidity": 0.7, "tightness": None, "energy_kwh": 0.5,
            "water_l": 0.0, "crew_min": 12.0, "partition_key": "2026-02-01",
            "source_file": "experiments_20260201.parquet", "source_sha256": "a" * 64})
        con.register("rows", rows)
        con.execute("CREATE TABLE observations.measurements AS SELECT *, now() AS ingested_at FROM rows")
    second = materialize_gold()
    assert second.success
    dataset = second.output_for_node("gold_dataset")
    assert dataset.lineage["row_counts"]["by_label_source"]["lab"] == 30
    assert dataset.lineage["observation_partitions"][0]["partition_key"] == "2026-02-01"
    assert dataset.dataset_hash != first.output_for_node("gold_dataset").dataset_hash
    assert all(e.passed for e in second.get_asset_check_evaluations())


def test_gold_pii_check_finds_an_email_in_an_identifier():
    from pathlib import Path

    from rexai_assets.gold.assets import gold_pii_free
    from rexai_assets.raw.tables import load_raw_tables
    from rexai_assets.models.testing import small_gold

    gold = small_gold(load_raw_tables(Path(__file__).resolve().parents[1] / "data" / "raw"), size=200)
    assert gold_pii_free(gold).passed
    gold.frame.loc[gold.frame.index[0], "recipe_id"] = "ana.perez@habitat.mars"
    result = gold_pii_free(gold)
    assert not result.passed
    assert result.metadata["problems"].value == ["recipe_id: email 'ana.perez@habitat.mars'"]
