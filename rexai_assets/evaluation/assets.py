"""The `evaluation` group: challenger vs champion on the same golden set, and the promotion proposal."""

import dagster as dg

from rexai_assets.resources import WAREHOUSE_WRITE, MlflowTracking, RexaiStorage, Warehouse

GROUP = "evaluation"


@dg.asset(group_name=GROUP, kinds={"mlflow", "pandas"}, deps=[dg.AssetKey("rexai_regressor")])
def model_evaluation(context: dg.AssetExecutionContext, gold_dataset, storage: RexaiStorage,
                     mlflow: MlflowTracking) -> dg.Output:
    """Challenger, champion and heuristic on the golden set and the test split, per target and label-source slice."""
    from rexai_assets.evaluation.evaluate import evaluate_registry_models, report_metadata

    report = evaluate_registry_models(gold_dataset, mlflow, storage.layout)
    context.log.info(f"challenger v{report.challenger_version} vs champion v{report.champion_version or '-'}")
    return dg.Output(report, metadata=report_metadata(report))


@dg.asset(group_name=GROUP, kinds={"duckdb", "mlflow"}, op_tags=WAREHOUSE_WRITE)
def promotion_proposal(context: dg.AssetExecutionContext, model_evaluation, storage: RexaiStorage,
                       warehouse: Warehouse, mlflow: MlflowTracking) -> dg.Output:
    """PROMOTE / REVIEW / REJECT for the challenger with each criterion's numbers; applied at once per policy."""
    from rexai_assets.evaluation.evaluate import proposal_metadata, propose

    proposal, outcome = propose(model_evaluation, storage, warehouse, mlflow, trigger=context.run.tags.get("rexai/trigger"),
                                run_id=context.run_id)
    return dg.Output(proposal, metadata=proposal_metadata(proposal, outcome, model_evaluation))


@dg.asset_check(asset=model_evaluation, blocking=True,
                description="Every model was scored on the same labelled golden rows, per slice and target.")
def same_rows_for_every_model(model_evaluation) -> dg.AssetCheckResult:
    golden = model_evaluation.metrics[model_evaluation.metrics["split"] == "golden"]
    counts = golden.pivot_table(index=["slice", "target"], columns="model", values="n")
    uneven = [f"{s}/{t}: { {m: int(n) for m, n in row.dropna().items()} }" for (s, t), row in counts.iterrows()
              if row.nunique() > 1]
    return dg.AssetCheckResult(passed=not uneven and not golden.empty,
                               metadata={"uneven": dg.MetadataValue.json(uneven), "models": sorted(golden["model"].unique())})


@dg.asset_check(asset=promotion_proposal, blocking=True,
                description="The registry's champion matches the proposal's outcome: only an applied PROMOTE moves it.")
def champion_matches_proposal(promotion_proposal, mlflow: MlflowTracking) -> dg.AssetCheckResult:
    from rexai_assets.evaluation.promotion import PROMOTED, ChampionRegistry, promotion_settings

    current = ChampionRegistry(mlflow.client(), promotion_settings()).champion()
    expected = (promotion_proposal.challenger_version if promotion_proposal.status == PROMOTED
                else promotion_proposal.champion_version)
    return dg.AssetCheckResult(passed=current == expected, metadata={
        "champion": str(current), "expected": str(expected), "status": promotion_proposal.status})
