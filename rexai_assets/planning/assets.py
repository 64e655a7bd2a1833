"""The `planning` asset: `experiment_plan`, re-planned by declarative automation after every promotion proposal.

Why eager on `promotion_proposal`: a proposal is the only event that can move the champion (auto mode
promotes inside it; the second vote's later approval is recorded on it too), and a plan is cheap (about
a second), so every proposal re-plans with whatever model is champion then; a manual materialisation
in the UI plans on demand (run config: `n`, `target`).
"""

import dagster as dg

from rexai_assets.resources import WAREHOUSE_WRITE, MlflowTracking, RexaiStorage, Warehouse

GROUP = "planning"
PROMOTION = dg.AssetKey("promotion_proposal")


class PlanRequest(dg.Config):
    """Size of the plan (0: planning.yaml batch_size) and an optional preset to verify (empty: every preset)."""

    n: int = 0
    target: str = ""


@dg.asset(group_name=GROUP, kinds={"duckdb", "numpy"}, deps=[PROMOTION], op_tags=WAREHOUSE_WRITE,
          automation_condition=dg.AutomationCondition.eager())
def experiment_plan(context: dg.AssetExecutionContext, config: PlanRequest, storage: RexaiStorage,
                    warehouse: Warehouse, mlflow: MlflowTracking) -> dg.Output[dict]:
    """The next batch of lab experiments: explore where the champion is unsure, verify the presets, resolve disagreement."""
    from rexai_assets.planning.plan import PlanningError
    from rexai_assets.planning.report import plan_metadata
    from rexai_assets.planning.service import load_champion_card, make_plan, plan_cache
    from rexai_assets.raw.tables import load_raw_tables

    data = storage.layout
    try:
        model = load_champion_card(mlflow)
    except PlanningError as exc:  # no champion yet (e.g. the first challenger was rejected): nothing to plan with
        context.log.warning(str(exc))
        return dg.Output({"plan_id": None, "model_version": None, "experiments": []}, metadata={"skipped": str(exc)})
    plan = make_plan(warehouse.client(), load_raw_tables(data.raw), model, n=config.n or None,
                     target=config.target or None, cache=plan_cache(data.models))
    context.log.info(f"{plan.plan_id}: {len(plan.experiments)} experiments with champion v{plan.model_version}")
    return dg.Output(plan.document(), metadata=plan_metadata(plan, data.root))
