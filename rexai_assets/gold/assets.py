"""The `gold` asset group: the candidate pool and the gold dataset, with their blocking checks.

Asset bodies only wire resources to the plain functions of this package. great_expectations is
imported inside the GX check.
"""

import pandas as pd

import dagster as dg

from rexai_assets.check_results import problems_result
from rexai_assets.resources import WAREHOUSE_WRITE, RexaiStorage, Warehouse

GROUP = "gold"
# The observation assets are defined (and partitioned) by the observations layer; the gold dataset
# reads their output through the warehouse table observations.measurements.
OBSERVATION_ASSETS = [dg.AssetKey("experiment_runs"), dg.AssetKey("crew_feedback")]


@dg.asset(group_name=GROUP, kinds={"pandas", "duckdb", "parquet"}, op_tags=WAREHOUSE_WRITE)
def recipe_candidates_pool(context: dg.AssetExecutionContext, storage: RexaiStorage, warehouse: Warehouse,
                           waste_inventory: pd.DataFrame, waste_materials: pd.DataFrame,
                           process_catalog: pd.DataFrame, mgs1_oxides: pd.DataFrame, mgs1_properties: pd.DataFrame,
                           material_datasheets: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Seeded pool of distinct candidate recipes (1-4 waste items, every process, regolith 0-0.5) with contract features."""
    from rexai_assets.gold import candidates, contract, dataset
    from rexai_assets.hashing import sha256_frame
    from rexai_assets.raw.tables import RawTables

    tables = RawTables.from_assets(waste_inventory, waste_materials, process_catalog, mgs1_oxides, mgs1_properties,
                                   material_datasheets)
    cfg = contract.gold_settings()
    pool = candidates.recipe_candidates_pool(tables, cfg)
    with warehouse.connect() as con:
        dataset.save_to_warehouse(con, candidates=pool)
    paths = dataset.export_files(storage.layout.gold, candidates=pool)
    pool_hash = sha256_frame(pool)
    return dg.Output(pool, data_version=dg.DataVersion(pool_hash), metadata={
        "dagster/row_count": len(pool),
        "pool_hash": pool_hash,
        "seed": cfg.seed,
        "feature_order_hash": contract.feature_order_hash(),
        "by_process": dg.MetadataValue.json(pool["process_id"].value_counts().sort_index().to_dict()),
        "parquet": dg.MetadataValue.path(str(paths["candidates"])),
    })


@dg.asset(group_name=GROUP, kinds={"pandas", "duckdb", "parquet"}, deps=OBSERVATION_ASSETS,
          op_tags=WAREHOUSE_WRITE)
def gold_dataset(context: dg.AssetExecutionContext, storage: RexaiStorage, warehouse: Warehouse,
                 recipe_candidates_pool: pd.DataFrame, waste_inventory: pd.DataFrame, waste_materials: pd.DataFrame,
                 process_catalog: pd.DataFrame, mgs1_oxides: pd.DataFrame, mgs1_properties: pd.DataFrame,
                 material_datasheets: pd.DataFrame) -> dg.Output:
    """Simulated + measured labels on contract features, time/hash splits, golden set, train-only normalisation and lineage."""
    from rexai_assets.gold import dataset as gd
    from rexai_assets.gold.lineage import raw_file_hashes
    from rexai_assets.raw.tables import RawTables

    tables = RawTables.from_assets(waste_inventory, waste_materials, process_catalog, mgs1_oxides, mgs1_properties,
                                   material_datasheets)
    layout = storage.layout
    with warehouse.connect() as con:
        measurements = gd.read_measurements(con)
    gold = gd.build_gold_dataset(tables, recipe_candidates_pool, measurements, raw_file_hashes(layout.raw))
    for line in gold.lineage["rejections"][:20]:
        context.log.warning(line)
    with warehouse.connect() as con:
        gd.save_to_warehouse(con, dataset=gold)
    paths = gd.export_files(layout.gold, dataset=gold)
    counts = gold.lineage["row_counts"]
    return dg.Output(gold, data_version=dg.DataVersion(gold.dataset_hash), metadata={
        "dagster/row_count": counts["total"],
        "dataset_hash": gold.dataset_hash,
        "config_hash": gold.config_hash,
        "feature_order_hash": gold.feature_order_hash,
        "rows_by_split": dg.MetadataValue.json(counts["by_split"]),
        "rows_by_label_source": dg.MetadataValue.json(counts["by_label_source"]),
        "rejected_observations": gold.lineage["rejected_observations"],
        "excluded_zero_weight": dg.MetadataValue.json(gold.lineage["excluded_zero_weight"]),
        "lineage": dg.MetadataValue.json(gold.lineage),
        "lineage_file": dg.MetadataValue.path(str(paths["lineage"])),
        "parquet": dg.MetadataValue.path(str(paths["dataset"])),
    })


# ---------------------------------------------------------------------------------------------
# Checks


@dg.asset_check(asset=recipe_candidates_pool, blocking=True,
                description="Pool has pool_size distinct recipe ids; no feature constant, all-NaN or an exact multiple of another.")
def candidates_valid(recipe_candidates_pool: pd.DataFrame) -> dg.AssetCheckResult:
    from rexai_assets.gold.contract import feature_names, gold_settings
    from rexai_assets.gold.features import feature_problems

    names = feature_names()
    pool = recipe_candidates_pool
    problems = feature_problems(pool[list(names)].to_numpy(float), names)
    duplicates = int(pool["recipe_id"].duplicated().sum())
    if duplicates:
        problems.append(f"{duplicates} duplicate recipe_id(s)")
    expected = gold_settings().pool_size
    if len(pool) != expected:
        problems.append(f"{len(pool)} candidates, expected {expected}")
    return problems_result(problems, rows=len(pool))


@dg.asset_check(asset=gold_dataset, blocking=True,
                description="No feature of the gold dataset is constant, all-NaN or an exact multiple of another.")
def gold_features_valid(gold_dataset) -> dg.AssetCheckResult:
    from rexai_assets.gold.features import feature_problems

    return problems_result(feature_problems(gold_dataset.X(), gold_dataset.feature_names))


@dg.asset_check(asset=gold_dataset, blocking=True,
                description="Zero recipe_id overlap between the golden set and train; only simulated or trusted rows in golden.")
def golden_set_isolated(gold_dataset) -> dg.AssetCheckResult:
    from rexai_assets.gold.dataset import golden_train_overlap, untrusted_golden

    overlap = golden_train_overlap(gold_dataset)
    problems = [f"recipe {r} is in golden and train" for r in overlap]
    problems += [f"untrusted label_source {s!r} in golden" for s in untrusted_golden(gold_dataset)]
    return problems_result(problems, golden_rows=len(gold_dataset.split_frame("golden")),
                   trusted_golden_rows=len(gold_dataset.trusted_golden()))


@dg.asset_check(asset=gold_dataset, blocking=True,
                description="With measured rows in train, at least replay_min_share of train rows are simulated (base) rows.")
def gold_replay_share(gold_dataset) -> dg.AssetCheckResult:
    from rexai_assets.gold.contract import gold_settings
    from rexai_assets.gold.dataset import replay_problem

    problem = replay_problem(gold_dataset, gold_settings().splits.replay_min_share)
    return problems_result([problem] if problem else [], **{k: v for k, v in gold_dataset.lineage["replay"].items() if v is not None})


@dg.asset_check(asset=gold_dataset, blocking=True,
                description="Great Expectations suite (ranges, nulls, split sizes, label_source vocabulary); renders Data Docs.")
def gold_great_expectations(storage: RexaiStorage, gold_dataset) -> dg.AssetCheckResult:
    from rexai_assets.gold.contract import gold_settings
    from rexai_assets.gold.quality import DOCS_SUBDIR, validate_gold

    docs = storage.layout.docs / DOCS_SUBDIR
    result = validate_gold(gold_dataset, list(gold_settings().labels.weights), docs)
    metadata = {"validation": dg.MetadataValue.json(result["suites"])}
    if result["docs_index"]:
        metadata["data_docs"] = dg.MetadataValue.path(result["docs_index"])
    return dg.AssetCheckResult(passed=result["success"], metadata=metadata)


@dg.asset_check(asset=gold_dataset, blocking=True,
                description="No e-mail address or blocklisted name in any text column of the gold dataset.")
def gold_pii_free(gold_dataset) -> dg.AssetCheckResult:
    from rexai_assets.observations.pii import find_pii

    frame = gold_dataset.frame
    # Identifiers and recipe specs are full of digit runs that look like phone numbers: only
    # e-mails and names can leak into them (free text never reaches the gold table).
    findings = [f"{column}: {finding.kind} {finding.match!r}"
                for column in frame.select_dtypes(include=["object", "string"]).columns
                for finding in find_pii(frame[column].dropna().unique(), kinds=("email", "name"))]
    return problems_result(findings[:50], text_columns=int(len(frame.select_dtypes(include=["object", "string"]).columns)))
