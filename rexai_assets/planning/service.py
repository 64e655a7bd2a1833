"""Plans made and stored for the platform's callers (the asset, the CLI, the second vote, the benchmark).

Dagster-free: a `WarehouseClient`, an MLflow tracking URI (or resource) and the raw folder are all it needs,
so `rexai plan-experiments` starts like `rexai recommend`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from rexai_assets.planning.plan import PlanningError, plan_experiments
from rexai_assets.planning.store import Plan, insert_plan, measured_recipes, planned_ids, sync_measured
from rexai_assets.warehouse import WarehouseClient

LEARNING_CURVE = Path("benchmarks") / "planning" / "learning_curve.png"


def load_version(tracking: Any, version: str | None = None) -> tuple[Any, str]:
    """(ensemble, version): `version`, or the champion resolved now; PlanningError without one."""
    from rexai_assets.models import registry

    try:
        if version is not None:
            model, info = registry.load_model_version(tracking, version, registry.current_feature_order_hash())
            return model, str(info.version)
        found = registry.load_model_by_alias(tracking, expected_feature_order_hash=registry.current_feature_order_hash())
    except registry.FeatureContractMismatch as exc:
        raise PlanningError(str(exc)) from None
    if found is None:
        raise PlanningError("no champion yet: plans are made from a trained model (run `rexai run` first)")
    return found[0], str(found[1].version)


def presets_for(tables: Any, target: str | None) -> list[Any]:
    """Every preset of raw/targets_presets.json, or the one named (PlanningError listing the valid names)."""
    from rexai_assets.models.predictive import UnknownPreset, preset_from_frame

    names = [str(n) for n in tables.presets["name"]] if target is None else [target]
    try:
        return [preset_from_frame(tables.presets, name) for name in names]
    except UnknownPreset as exc:
        raise PlanningError(str(exc)) from None


def make_plan(warehouse: WarehouseClient, tables: Any, model: tuple[Any, str], n: int | None = None,
              target: str | None = None, rival: Any = None, mix: Mapping[str, float] | None = None,
              proposal_id: str | None = None, pool_size: tuple[int, float] | None = None) -> Plan:
    """Plan `n` experiments (planning.yaml batch_size) with `model` and store the plan; one transaction, so two
    planners never plan the same recipe."""
    from rexai_assets.planning.config import planning_settings

    cfg = planning_settings()
    presets = presets_for(tables, target)
    with warehouse.transaction() as con:
        sync_measured(con)
        plan = plan_experiments(tables, model[0], model[1], measured_recipes(con), planned_ids(con), cfg,
                                n or cfg.batch_size, presets, mix=mix, rival=rival, proposal_id=proposal_id,
                                pool_size=pool_size)
        insert_plan(con, plan)
    return plan


def learning_curve(root: Path) -> bytes | None:
    """The benchmark's learning-curve PNG under the data root, when the benchmark has run."""
    path = Path(root) / LEARNING_CURVE
    return path.read_bytes() if path.is_file() else None
