"""The `models` asset group: members trained on the gold train split, and the served ensemble.

Asset bodies only call the plain functions of this package; sklearn, torch and mlflow are imported
inside them, so loading the definitions stays light.
"""

import dagster as dg

from rexai_assets.resources import MlflowTracking, RexaiStorage

GROUP = "models"


def _config():
    from rexai_assets.models.config import models_config

    return models_config()


def _fit_cache(storage: RexaiStorage):
    return storage.layout.models / "fit_cache"


def _selection_basis(gold_dataset, cfg) -> str:
    from rexai_assets.models.fit_cache import selection_basis

    return selection_basis(gold_dataset.lineage, cfg.model_dump(mode="json"))


def _fit_metadata(member, reused: bool) -> dict:
    # A reused fit is the stored fit of identical training rows, settings and code (models/fit_cache.py).
    return {"fit": "reused: same simulated train rows, settings and code" if reused else "trained",
            "train_seconds": round(member.train_seconds, 3)}


@dg.asset(group_name=GROUP, kinds={"sklearn"})
def gradient_boosting_models(storage: RexaiStorage, gold_dataset) -> dg.Output:
    """Histogram gradient boosting, one model per target on its labelled train rows, label-source weighted."""
    from rexai_assets.models.ensemble import train_boosting

    member, reused = train_boosting(gold_dataset, _config(), _fit_cache(storage))
    return dg.Output(member, metadata={**_fit_metadata(member, reused), "targets": ", ".join(member.target_names)})


@dg.asset(group_name=GROUP, kinds={"torch"})
def tab_transformer(storage: RexaiStorage, gold_dataset) -> dg.Output:
    """Small CPU TabTransformer (feature tokens, 2 encoder layers), masked and weighted loss; None when disabled."""
    from rexai_assets.models.ensemble import train_tab_transformer
    from rexai_assets.models.fit_cache import unselected_skip

    cfg = _config()
    skipped = unselected_skip(_fit_cache(storage), "tab_transformer", _selection_basis(gold_dataset, cfg),
                              cfg.ensemble.recheck_unselected_after)
    if skipped:
        return dg.Output(None, metadata={"enabled": True, "fit": skipped})
    member, reused = train_tab_transformer(gold_dataset, cfg, _fit_cache(storage))
    if member is None:
        return dg.Output(None, metadata={"enabled": False})
    return dg.Output(member, metadata={"enabled": True, **_fit_metadata(member, reused),
                                       "final_train_loss": float(member.history[-1]) if member.history else float("nan")})


@dg.asset(group_name=GROUP, kinds={"torch"})
def recipe_autoencoder(gold_dataset) -> dg.Output:
    """Autoencoder over contract features: latent vector per recipe, reconstruction error as novelty score."""
    from rexai_assets.models.ensemble import train_autoencoder

    member = train_autoencoder(gold_dataset, _config())
    return dg.Output(member, metadata={"latent_dim": member.hparams["latent_dim"],
                                       "train_seconds": round(member.train_seconds, 3)})


@dg.asset(group_name=GROUP, kinds={"sklearn", "mlflow"})
def rexai_regressor(context: dg.AssetExecutionContext, storage: RexaiStorage, mlflow: MlflowTracking, gold_dataset,
                    gradient_boosting_models, tab_transformer, recipe_autoencoder) -> dg.Output:
    """Served ensemble (forest + chosen members) with conformal 95 % intervals, tracked in MLflow, registered as challenger."""
    from rexai_assets.models.ensemble import assemble_ensemble, train_forest
    from rexai_assets.models.fit_cache import record_selection
    from rexai_assets.models.tracking import track_and_register

    cfg = _config()
    forest, forest_reused = train_forest(gold_dataset, cfg, _fit_cache(storage))
    ensemble = assemble_ensemble(gold_dataset, forest, gradient_boosting_models, tab_transformer,
                                 recipe_autoencoder, cfg)
    record_selection(_fit_cache(storage), ensemble.weights,
                     [name for name, m in (("forest", forest), ("boosting", gradient_boosting_models),
                                           ("tab_transformer", tab_transformer)) if m is not None],
                     _selection_basis(gold_dataset, cfg))
    record = track_and_register(ensemble, mlflow, storage.layout.models, cfg, dagster_run_id=context.run_id)
    meta = ensemble.metadata
    context.log.info(f"registered {record.registered_model} version {record.version} as {record.alias}")
    return dg.Output(ensemble, data_version=dg.DataVersion(record.model_hash), metadata={
        "registered_model": record.registered_model,
        "version": record.version,
        "alias": record.alias,
        "mlflow_run_id": record.run_id,
        "model_hash": record.model_hash,
        "dataset_hash": meta["dataset_hash"],
        "feature_order_hash": meta["feature_order_hash"],
        "trained_on": meta["trained_on"],
        "training_seconds": round(meta["training_seconds_total"], 3),
        "forest_fit": _fit_metadata(forest, forest_reused)["fit"],
        "weights": dg.MetadataValue.json(ensemble.weights),
        "tab_transformer_used": dg.MetadataValue.json(meta["tab_transformer_used"]),
        "coverage": dg.MetadataValue.json(meta["coverage"]),
        "calibrated_on": dg.MetadataValue.json(meta["calibrated_on"]),
        "golden_vs_heuristic": dg.MetadataValue.json(meta["golden_vs_heuristic"]),
        "metadata_file": dg.MetadataValue.path(str(record.metadata_path)),
    })


# Not blocking: a challenger that fails a model check is a decision, not a crashed run. The gate
# (evaluation/gate.py) applies the same functions to the same golden rows as criteria, so the run goes
# on to a REJECT proposal with these numbers and the champion, bundle and recommendations stay as they are.
@dg.asset_check(asset=rexai_regressor, blocking=False)
def rexai_regressor_interval_coverage(rexai_regressor) -> dg.AssetCheckResult:
    """The served 95 % intervals' coverage is not significantly below nominal on the deciding golden slice."""
    from rexai_assets.models.checks import coverage_problems
    from rexai_assets.models.rules import quality_thresholds

    thresholds = quality_thresholds()
    problems, verdicts = coverage_problems(rexai_regressor.metadata, rexai_regressor.target_names, thresholds)
    return dg.AssetCheckResult(passed=not problems, metadata={
        "problems": dg.MetadataValue.json(problems), "coverage": dg.MetadataValue.json(verdicts),
        "test_level": thresholds.coverage_test_level,
        "calibrated_on": dg.MetadataValue.json(rexai_regressor.calibrated_on)})


@dg.asset_check(asset=rexai_regressor, blocking=False)
def rexai_regressor_beats_heuristic(rexai_regressor) -> dg.AssetCheckResult:
    """The ensemble's MAE is below the heuristic's for every target on the deciding golden slice."""
    from rexai_assets.models.checks import heuristic_problems

    problems, versus = heuristic_problems(rexai_regressor.metadata, rexai_regressor.target_names)
    return dg.AssetCheckResult(passed=not problems, metadata={
        "problems": dg.MetadataValue.json(problems), "golden_vs_heuristic": dg.MetadataValue.json(versus)})
