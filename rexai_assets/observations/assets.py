"""The `observations` asset group: the experiment registry (daily) and crew feedback (per file).

Partitions:
- `experiment_partitions`: daily, UTC, from EXPERIMENTS_START_DATE (2020-01-01, early enough for
  archived lab results) up to and including today (`end_offset=1`: an experiment logged today
  is ingestible today). A day without files materialises as an empty, successful partition.
- `feedback_partitions`: dynamic `feedback_files`, one key per file NAME in inbox/feedback/.
  Keys are added by whoever watches the inbox (`register_feedback_partitions`, the sensor).

Both assets write the warehouse and return a small summary dict; the gold layer reads
`observations.measurements`, not the returned value.
"""

from typing import Any

import dagster as dg
import pandas as pd

from rexai_assets.observations.records import EXPERIMENTS_START_DATE
from rexai_assets.check_results import problems_result
from rexai_assets.partitions import unknown_partition_keys
from rexai_assets.resources import WAREHOUSE_READ, WAREHOUSE_WRITE, RexaiStorage, Warehouse

GROUP = "observations"
KINDS = {"duckdb", "parquet"}

experiment_partitions = dg.DailyPartitionsDefinition(start_date=EXPERIMENTS_START_DATE, end_offset=1)
feedback_partitions = dg.DynamicPartitionsDefinition(name="feedback_files")


def _output(context: dg.AssetExecutionContext, report: Any) -> dg.Output[dict]:
    for row in report.rejections[:20]:
        context.log.warning(f"rejected {row.one_line()}")
    for name in report.quarantined:
        context.log.warning(f"unreadable, moved to quarantine: {name}")
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(report.rows_in_partition),
        "rows_read": dg.MetadataValue.int(report.total_rows),
        "rows_accepted": dg.MetadataValue.int(report.written),
        "rows_rejected": dg.MetadataValue.int(report.rejected_rows),
        "duplicates_identical": dg.MetadataValue.int(report.duplicates_identical),
        "duplicate_conflicts": dg.MetadataValue.int(report.conflicts),
        "measurements": dg.MetadataValue.int(report.measurements),
        "files_sha256": dg.MetadataValue.json(report.files),
        "quarantined_files": dg.MetadataValue.json(report.quarantined),
        "inference_log_compacted": dg.MetadataValue.int(report.inference_entries),
    }
    if report.kind == "experiment":
        metadata["rows_off_day"] = dg.MetadataValue.int(report.off_day_rows)
    return dg.Output(report.summary(), data_version=dg.DataVersion(report.data_version), metadata=metadata)


def _catalog(waste_inventory: pd.DataFrame, process_catalog: pd.DataFrame) -> Any:
    from rexai_assets.recipes import RecipeCatalog

    return RecipeCatalog.from_frames(waste_inventory, process_catalog)


@dg.asset(partitions_def=experiment_partitions, group_name=GROUP, kinds=KINDS, op_tags=WAREHOUSE_WRITE)
def experiment_runs(context: dg.AssetExecutionContext, storage: RexaiStorage, warehouse: Warehouse,
                    waste_inventory: pd.DataFrame, process_catalog: pd.DataFrame) -> dg.Output[dict]:
    """Lab, simulator and field experiments of one day, validated, PII-scrubbed and upserted into the warehouse."""
    from rexai_assets.observations.ingest import ingest_experiment_day

    report = ingest_experiment_day(storage.layout, context.partition_key, warehouse.connect,
                                   _catalog(waste_inventory, process_catalog), context.run_id)
    return _output(context, report)


@dg.asset(partitions_def=feedback_partitions, group_name=GROUP, kinds=KINDS, op_tags=WAREHOUSE_WRITE)
def crew_feedback(context: dg.AssetExecutionContext, storage: RexaiStorage, warehouse: Warehouse,
                  waste_inventory: pd.DataFrame, process_catalog: pd.DataFrame) -> dg.Output[dict]:
    """One crew feedback file, validated, PII-scrubbed and upserted into the warehouse."""
    from rexai_assets.observations.ingest import ingest_feedback_file

    report = ingest_feedback_file(storage.layout, context.partition_key, warehouse.connect,
                                  _catalog(waste_inventory, process_catalog), context.run_id)
    if not report.files and not report.quarantined:
        context.log.warning(f"inbox/feedback/{context.partition_key} is gone; its stored rows are kept")
    return _output(context, report)


def _pii_check_result(warehouse: Warehouse) -> dg.AssetCheckResult:
    from rexai_assets.observations.warehouse_io import find_warehouse_pii

    with warehouse.connect() as con:
        findings = find_warehouse_pii(con)
    return dg.AssetCheckResult(
        passed=not findings,
        metadata={"findings": dg.MetadataValue.json([f"{f.table}.{f.column}: {f.rows} value(s) with {f.kind}"
                                                     for f in findings])},
        description=None if not findings else f"personal data in {len(findings)} column(s) of the warehouse")


def _contract_check_result(warehouse: Warehouse, kind: str) -> dg.AssetCheckResult:
    from rexai_assets.observations.warehouse_io import contract_violations

    with warehouse.connect() as con:
        problems = contract_violations(con, kind)
    return problems_result(problems, "contract violation(s)")


@dg.asset_check(asset=experiment_runs, blocking=True, op_tags=WAREHOUSE_READ)
def experiment_runs_pii_free(warehouse: Warehouse) -> dg.AssetCheckResult:
    """No e-mail, phone number or blocklisted name in any text column of the observations tables."""
    return _pii_check_result(warehouse)


@dg.asset_check(asset=crew_feedback, blocking=True, op_tags=WAREHOUSE_READ)
def crew_feedback_pii_free(warehouse: Warehouse) -> dg.AssetCheckResult:
    """No e-mail, phone number or blocklisted name in any text column of the observations tables."""
    return _pii_check_result(warehouse)


@dg.asset_check(asset=experiment_runs, blocking=True, op_tags=WAREHOUSE_READ)
def experiment_measurements_contract(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Experiment rows of observations.measurements are labelled, in range and fully specified."""
    return _contract_check_result(warehouse, "experiment")


@dg.asset_check(asset=crew_feedback, blocking=True, op_tags=WAREHOUSE_READ)
def feedback_measurements_contract(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Feedback rows of observations.measurements are labelled, in range and fully specified."""
    return _contract_check_result(warehouse, "feedback")


def register_feedback_partitions(instance: dg.DagsterInstance, keys: list[str]) -> list[str]:
    """Add the feedback partition keys the instance does not know yet; returns the added ones."""
    new = unknown_partition_keys(instance, feedback_partitions, keys)
    if new:
        instance.add_dynamic_partitions(feedback_partitions.name, new)
    return new
