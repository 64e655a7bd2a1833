"""The `habitat_adapters` asset (group `models`): one dynamic partition per habitat of config/habitats.yaml.

The partition set follows the file (`habitat_adapter_sensor`, `sync_habitat_partitions`), so loading the
definitions reads no file. A partition trains, registers and gates that habitat's adapter on the shared
champion (habitats/service.py); too few trusted rows is an outcome, not a failure.
"""


from typing import Iterable

import dagster as dg

from rexai_assets.partitions import unknown_partition_keys
from rexai_assets.resources import WAREHOUSE_WRITE, MlflowTracking, RexaiStorage, Warehouse

HABITAT_PARTITIONS = "habitats"
HABITAT_JOB = "habitat_adapter_job"
habitat_partitions = dg.DynamicPartitionsDefinition(name=HABITAT_PARTITIONS)


def sync_habitat_partitions(instance: dg.DagsterInstance, habitats: Iterable[str]) -> list[str]:
    """Add the habitat partitions the instance lacks; returns every habitat id given."""
    wanted = list(habitats)
    new = unknown_partition_keys(instance, habitat_partitions, wanted)
    if new:
        instance.add_dynamic_partitions(HABITAT_PARTITIONS, new)
    return wanted


def decide_markdown(proposal_id: str) -> str:
    """How a person decides an adapter proposal waiting for the second vote: the launchpad and the commands."""
    from rexai_assets.evaluation.review import review_commands, review_link

    return "\n\n".join([f"[review_promotion launchpad]({review_link(proposal_id)})",
                         *(f"`{c}`" for c in review_commands(proposal_id, request_tests=False))])


def outcome_metadata(outcome) -> dict:
    from rexai_assets.habitats.store import PENDING

    waiting = {"decide": dg.MetadataValue.md(decide_markdown(outcome.proposal_id))} \
        if outcome.status == PENDING and outcome.proposal_id else {}
    return {**waiting, "habitat": outcome.habitat, "note": outcome.note, "trusted_rows": outcome.trusted_rows,
            "min_rows": outcome.min_rows, "golden_rows": outcome.golden_rows,
            "adapter_version": str(outcome.adapter_version), "recommendation": str(outcome.recommendation),
            "status": str(outcome.status), "proposal_id": str(outcome.proposal_id),
            "base_model_version": str(outcome.base_model_version),
            "adapted_targets": dg.MetadataValue.json(outcome.adapted_targets),
            "interval_sources": dg.MetadataValue.json(outcome.interval_sources),
            "criteria": dg.MetadataValue.md("\n".join(
                f"- {'PASS' if c['passed'] else 'FAIL'} {c['detail']}" for c in outcome.criteria) or "-")}


@dg.asset(group_name="models", kinds={"sklearn", "mlflow"}, partitions_def=habitat_partitions, op_tags=WAREHOUSE_WRITE,
          deps=[dg.AssetKey("promotion_proposal")])
def habitat_adapters(context: dg.AssetExecutionContext, gold_dataset, storage: RexaiStorage, warehouse: Warehouse,
                     mlflow: MlflowTracking) -> dg.Output[dict]:
    """One habitat's residual adapter on the shared champion, gated on its golden slice, registered as rexai-habitat-<id>."""
    from rexai_assets.evaluation.promotion import promotion_settings
    from rexai_assets.habitats.service import run_habitat

    outcome = run_habitat(context.partition_key, gold_dataset, mlflow, warehouse.connect, storage.layout.models,
                          promotion_settings().mode, context.run.tags.get("rexai/trigger"), context.run_id)
    context.log.info(f"{outcome.habitat}: {outcome.note}")
    return dg.Output(outcome.document(), metadata=outcome_metadata(outcome))


habitat_adapter_job = dg.define_asset_job(
    HABITAT_JOB, selection=dg.AssetSelection.assets(habitat_adapters), partitions_def=habitat_partitions,
    description="Train, register and gate one habitat's adapter on the current shared champion.")
