"""Gold dataset: measured labels, splits, golden isolation, replay, hashes, masks, storage."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from rexai_assets.gold import contract as gc
from rexai_assets.gold.candidates import recipe_candidates_pool
from rexai_assets.gold.dataset import (META_COLUMNS, build_gold_dataset, empty_measurements, export_files,
                                       golden_train_overlap, read_measurements, replay_problem, save_to_warehouse,
                                       untrusted_golden)
from rexai_assets.gold.splits import hash_unit
from rexai_assets.raw.tables import load_raw_tables
from rexai_assets_tests.conftest import SHIPPED_RAW


@pytest.fixture(scope="module")
def tables():
    return load_raw_tables(SHIPPED_RAW)


@pytest.fixture(scope="module")
def pool(tables):
    return recipe_candidates_pool(tables, size=1500)


def measurements(pool: pd.DataFrame, n: int, seed: int = 0, sources=("lab", "iss_sim", "analog_field", "crew_feedback"),
                 start: str = "2026-01-01") -> pd.DataFrame:
    """n measurement rows on pool recipes (with repeats), partial labels, several sources."""
    rng = np.random.default_rng(seed)
    picked = pool.iloc[rng.integers(0, len(pool), n)]
    values = {t: rng.random(n) for t in gc.TARGETS}
    values["crew_min"] = values["crew_min"] * 30
    for t in gc.TARGETS:
        values[t][rng.random(n) < 0.4] = np.nan
    values["rigidity"][np.isnan(pd.DataFrame(values).to_numpy()).all(axis=1)] = 0.5   # at least one target
    return pd.DataFrame({
        "observation_id": [f"OBS-{seed}-{i:05d}" for i in range(n)], "kind": "experiment",
        "recipe_id": picked["recipe_id"].to_numpy(), "recipe_spec": picked["recipe_spec"].to_numpy(),
        "process_id": picked["process_id"].to_numpy(), "label_source": rng.choice(list(sources), n),
        "observed_at": pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
        **values, "partition_key": "2026-01-01", "source_file": "experiments_20260101.parquet", "source_sha256": "f" * 64,
    })


def test_simulated_only_dataset(tables, pool):
    gold = build_gold_dataset(tables, pool, None, {"x.csv": "abc"})
    frame = gold.frame
    assert len(frame) == len(pool) and set(frame["label_source"]) == {"simulated"}
    assert set(frame["split"]) == {"train", "val", "test", "golden"}
    assert 0.05 < (frame["split"] == "golden").mean() < 0.15
    assert frame["observed_at"].isna().all() and (frame["weight"] == 1.0).all()
    meta = len(META_COLUMNS)
    assert list(frame.columns[meta:meta + len(gold.feature_names)]) == list(gold.feature_names)
    assert gold.mask().all()
    assert gold.lineage["raw_files"] == {"x.csv": "abc"} and gold.lineage["observation_partitions"] == []
    assert gold.lineage["row_counts"]["by_label_source"] == {"simulated": len(pool)}


def test_golden_and_train_never_share_a_recipe(tables, pool):
    meas = measurements(pool, 3000)
    gold = build_gold_dataset(tables, pool, meas)
    assert golden_train_overlap(gold) == []
    for other in ("val", "test"):
        assert not set(gold.split_frame("golden")["recipe_id"]) & set(gold.split_frame(other)["recipe_id"])
    assert untrusted_golden(gold) == []
    assert "crew_feedback" not in set(gold.split_frame("golden")["label_source"])
    assert (gold.split_frame("train")["label_source"] == "crew_feedback").any()   # untrusted rows still train
    # Each trusted source contributes roughly the configured 20 % of its rows to golden.
    for source in ("lab", "iss_sim", "analog_field"):
        rows = gold.frame[gold.frame["label_source"] == source]
        assert 0.1 < (rows["split"] == "golden").mean() < 0.35
    # The simulated golden slice is fixed: measurements do not change it.
    before = build_gold_dataset(tables, pool, None).golden_simulated()["recipe_id"]
    assert gold.golden_simulated()["recipe_id"].tolist() == before.tolist()
    assert gold.lineage["dropped_rows"].get("golden_recipe", 0) > 0


def test_golden_selection_is_by_recipe_hash(tables, pool):
    meas = measurements(pool, 800, sources=("lab",))
    gold = build_gold_dataset(tables, pool, meas)
    lab = gold.frame[gold.frame["label_source"] == "lab"]
    u = hash_unit(lab["recipe_id"], gc.gold_settings().splits.hash_salt)
    golden = (lab["split"] == "golden").to_numpy()
    assert (golden == ((u < 0.2) | np.isin(lab["recipe_id"], gold.golden_simulated()["recipe_id"]))).all()


def test_replay_keeps_base_data_in_train(tables, pool):
    small_pool = pool.head(100)
    meas = measurements(pool, 3000, sources=("lab", "crew_feedback"))
    gold = build_gold_dataset(tables, small_pool, meas)
    train = gold.split_frame("train")
    share = (train["label_source"] == "simulated").mean()
    assert share >= 0.2 and replay_problem(gold, 0.2) is None
    assert gold.lineage["replay"]["added_simulated_rows"] > 0
    assert golden_train_overlap(gold) == []
    assert train["recipe_id"][train["label_source"] == "simulated"].is_unique
    # Without measured rows nothing is added.
    assert build_gold_dataset(tables, small_pool, None).lineage["replay"]["added_simulated_rows"] == 0


def test_replay_check_detects_a_low_share(tables, pool):
    gold = build_gold_dataset(tables, pool.head(100), measurements(pool, 3000, sources=("lab",)))
    frame = gold.frame
    gold.frame = frame[~((frame["split"] == "train") & (frame["label_source"] == "simulated"))]
    assert "simulated share of train rows is 0.000" in replay_problem(gold, 0.2)


def test_same_inputs_same_dataset_hash(tables, pool):
    meas = measurements(pool, 500)
    a = build_gold_dataset(tables, pool, meas)
    b = build_gold_dataset(tables, pool.copy(), meas.sample(frac=1, random_state=3))   # row order is irrelevant
    assert a.dataset_hash == b.dataset_hash and a.lineage == b.lineage
    changed = meas.copy()
    changed.loc[changed["rigidity"].notna().idxmax(), "rigidity"] = 0.123456
    assert build_gold_dataset(tables, pool, changed).dataset_hash != a.dataset_hash
    assert build_gold_dataset(tables, pool, None).dataset_hash != a.dataset_hash


def test_partial_labels_are_masked_not_filled(tables, pool):
    meas = measurements(pool, 400, sources=("lab", "crew_feedback"))
    gold = build_gold_dataset(tables, pool, meas)
    measured = gold.frame[gold.frame["label_source"] != "simulated"].set_index("observation_id")
    original = meas.set_index("observation_id").loc[measured.index, list(gc.TARGETS)]
    np.testing.assert_array_equal(measured[list(gc.TARGETS)].notna().to_numpy(), original.notna().to_numpy())
    np.testing.assert_allclose(measured[list(gc.TARGETS)].to_numpy(), original.to_numpy())
    mask = gold.mask("train")
    assert mask.shape == (len(gold.split_frame("train")), 5) and not mask.all() and mask.any(axis=1).all()
    assert (gold.W("train")[~mask.all(axis=1)] > 1).all()   # partially labelled rows are measured: weight > simulated


def test_bad_measurements_are_reported_and_good_ones_kept(tables, pool):
    meas = measurements(pool, 20, sources=("lab",))
    meas.loc[0, "recipe_spec"] = '{"items": [{"waste_id": "W999", "mass_frac": 1}], "process_id": "P01"}'
    meas.loc[1, "label_source"] = "mystery_env"
    meas.loc[2, list(gc.TARGETS)] = [1.7, np.nan, np.nan, np.nan, np.nan]
    meas.loc[3, "tightness"] = -0.2
    gold = build_gold_dataset(tables, pool, meas)
    rejections = gold.lineage["rejections"]
    assert rejections[:2] == [
        "observations.measurements: observation OBS-0-00000: recipe_spec: unknown waste_id 'W999'",
        "observations.measurements: observation OBS-0-00001: label_source 'mystery_env' has no weight in gold.yaml labels.weights"]
    assert "observations.measurements: observation OBS-0-00002: no usable target value" in rejections
    assert "observations.measurements: observation OBS-0-00003: tightness value -0.2 out of range, masked" in rejections
    kept = set(gold.frame["observation_id"].dropna())
    assert {"OBS-0-00000", "OBS-0-00001", "OBS-0-00002"}.isdisjoint(kept) and "OBS-0-00003" in kept
    assert len(kept) == 17


def test_time_split_and_out_of_range(tables, pool, config_override):
    config_override("date_ranges.yaml", {"train": [["2020-01-01", "2026-06-01"]], "val": [["2026-03-01", "2026-06-01"]],
                                         "test": [["2026-06-01", "2027-01-01"]]})
    meas = measurements(pool, 600, sources=("crew_feedback",), start="2026-01-01")
    meas.loc[0, "observed_at"] = pd.Timestamp("2019-05-01")
    gold = build_gold_dataset(tables, pool, meas)
    rows = gold.frame[gold.frame["label_source"] == "crew_feedback"]
    first = meas.iloc[1:].groupby("recipe_id")["observed_at"].min()   # row 0 is out of range
    expected = pd.Series(np.select([first >= "2026-06-01", first >= "2026-03-01"], ["test", "val"], "train"),
                         index=first.index)
    assert len(rows) > 400 and (rows["split"].to_numpy() == expected[rows["recipe_id"]].to_numpy()).all()
    assert {"train", "val", "test"} <= set(rows["split"])
    assert "OBS-0-00000" not in set(gold.frame["observation_id"].dropna())
    assert gold.lineage["dropped_rows"]["out_of_range"] == 1
    # A recipe never straddles train and val/test.
    per_recipe = gold.frame[gold.frame["split"] != "golden"].groupby("recipe_id")["split"].nunique()
    assert (per_recipe == 1).all()


def test_normalisation_uses_train_only(tables, pool):
    gold = build_gold_dataset(tables, pool, measurements(pool, 300))
    train = gold.split_frame("train")[list(gold.feature_names)]
    np.testing.assert_allclose(gold.norm_mean.to_numpy(), train.mean().to_numpy())
    std = train.std(ddof=0).to_numpy()
    np.testing.assert_allclose(gold.norm_std.to_numpy(), np.where(std > 0, std, 1.0))
    assert not np.allclose(gold.norm_mean.to_numpy(), gold.frame[list(gold.feature_names)].mean().to_numpy())
    np.testing.assert_allclose(gold.normalize(gold.X("train")).mean(axis=0), 0, atol=1e-9)


def test_warehouse_round_trip(tables, pool, tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert read_measurements(con).empty   # observations layer not there yet: zero measured rows
    meas = measurements(pool, 50, sources=("lab",))
    con.execute("CREATE SCHEMA observations")
    con.register("m", meas)
    con.execute("CREATE TABLE observations.measurements AS SELECT *, now() AS ingested_at FROM m")
    read = read_measurements(con)
    assert len(read) == 50 and read["observation_id"].is_monotonic_increasing
    gold = build_gold_dataset(tables, pool, read)
    assert gold.dataset_hash == build_gold_dataset(tables, pool, meas).dataset_hash
    save_to_warehouse(con, dataset=gold, candidates=pool)
    save_to_warehouse(con, dataset=gold)   # idempotent
    assert con.execute("SELECT count(*) FROM gold.dataset").fetchone()[0] == len(gold.frame)
    assert con.execute("SELECT count(*) FROM gold.candidates").fetchone()[0] == len(pool)
    assert con.execute("SELECT dataset_hash FROM gold.lineage").fetchall() == [(gold.dataset_hash,)]
    paths = export_files(tmp_path / "gold", dataset=gold, candidates=pool)
    assert len(pd.read_parquet(paths["dataset"])) == len(gold.frame)
    assert empty_measurements().columns.tolist() == read.columns.tolist()


def test_verdict_weights_multiply_and_zero_weight_rows_never_train(tables, pool, config_override):
    meas = measurements(pool, 300, sources=("lab",))
    meas["verdict"] = np.resize(["pass", "fail", "inconclusive"], len(meas))
    gold = build_gold_dataset(tables, pool, meas)
    measured = gold.frame[gold.frame["label_source"] == "lab"]
    inconclusive = set(meas.loc[meas["verdict"] == "inconclusive", "observation_id"])
    assert inconclusive and not inconclusive & set(measured["observation_id"])   # stored, never in gold
    assert set(measured["weight"]) == {5.0}   # pass and fail: the lab weight times 1
    assert gold.lineage["excluded_zero_weight"] == {"inconclusive": 100}
    assert gold.lineage["verdict_weights"] == {"pass": 1.0, "fail": 1.0, "inconclusive": 0.0}

    config_override("gold.yaml", {"labels": {"verdict_weights": {"fail": 0.5, "inconclusive": 0.2}}})
    weighted = build_gold_dataset(tables, pool, meas)
    rows = weighted.frame.set_index("observation_id").loc[meas["observation_id"].tolist()].reset_index()
    by_verdict = dict(zip(meas["observation_id"], meas["verdict"]))
    weights = {v: set(rows.loc[rows["observation_id"].map(by_verdict) == v, "weight"]) for v in ("pass", "fail", "inconclusive")}
    assert weights == {"pass": {5.0}, "fail": {2.5}, "inconclusive": {1.0}}
    assert weighted.lineage["excluded_zero_weight"] == {}


def test_verdict_weights_are_validated(config_override):
    from rexai_assets.contract import ContractError

    config_override("gold.yaml", {"labels": {"verdict_weights": {"inconclusive": -1.0}}})
    with pytest.raises(ContractError, match="verdict_weights"):
        gc.gold_settings()


def test_read_measurements_carries_the_experiment_verdict(tmp_path):
    from rexai_assets.gold.dataset import MEASUREMENT_COLUMNS

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE SCHEMA observations")
    columns = ", ".join(f"{c} {'DOUBLE' if c in gc.TARGETS else 'TIMESTAMP' if c == 'observed_at' else 'VARCHAR'}"
                        for c in MEASUREMENT_COLUMNS)
    con.execute(f"CREATE TABLE observations.measurements ({columns})")
    con.execute("INSERT INTO observations.measurements (observation_id, kind, label_source) VALUES "
                "('E1', 'experiment', 'lab'), ('F1', 'feedback', 'crew_feedback')")
    assert read_measurements(con)["verdict"].isna().all()   # no experiment_runs table yet
    con.execute("CREATE TABLE observations.experiment_runs (experiment_id VARCHAR, verdict VARCHAR)")
    con.execute("INSERT INTO observations.experiment_runs VALUES ('E1', 'inconclusive'), ('F1', 'pass')")
    read = read_measurements(con)
    assert dict(zip(read["observation_id"], read["verdict"].where(read["verdict"].notna(), None))) == {
        "E1": "inconclusive", "F1": None}


def test_great_expectations_suite_passes_clean_gold_and_names_each_broken_column(tables, pool):
    import dataclasses

    from rexai_assets.gold.quality import validate_gold

    dataset = build_gold_dataset(tables, pool, measurements(pool, 40))
    sources = list(gc.gold_settings().labels.weights)
    assert validate_gold(dataset, sources)["success"]
    broken = dataset.frame.copy()
    broken.loc[broken.index[0], "weight"] = -1.0
    broken.loc[broken.index[1], "rigidity"] = 1.5
    broken.loc[broken.index[2], "regolith_frac"] = np.nan
    result = validate_gold(dataclasses.replace(dataset, frame=broken), sources)
    failed = {(f["expectation"], f["column"]) for f in result["suites"]["gold_dataset"]["failed"]}
    assert not result["success"] and failed == {("expect_column_values_to_be_between", "weight"),
                                                ("expect_column_values_to_be_between", "rigidity"),
                                                ("expect_column_values_to_not_be_null", "regolith_frac")}
