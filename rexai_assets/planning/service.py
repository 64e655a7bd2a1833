"""Plans made and stored for the platform's callers (the asset, the CLI, the second vote, the benchmark).

Dagster-free: a `WarehouseClient`, an MLflow tracking URI (or resource) and the raw folder are all it needs,
so `rexai plan-experiments` starts like `rexai recommend`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from rexai_assets.planning.plan import PlanningError, plan_experiments
from rexai_assets.planning.store import Plan, insert_plan, measured_recipes, planned_ids, sync_measured
from rexai_assets.warehouse import WarehouseClient

# The planning benchmarks' figures under the data root (bench.py, ceiling.py), shown in `experiment_plan`.
BENCHMARK_FOLDER = Path("benchmarks") / "planning"
LEARNING_CURVE, CEILING_PLOT = "learning_curve.png", "ceiling.png"


class CardModel:
    """The champion as a plan first needs it: its scorer card (feature and target names, coverage target,
    model hash) at once; the ensemble is loaded only when something must be scored (a pool whose scores are
    not in the plan cache, a habitat adapter, a rival)."""

    def __init__(self, card: Mapping[str, Any], load: Callable[[], Any]) -> None:
        self.feature_names = tuple(card["feature_names"])
        self.target_names = tuple(card["target_names"])
        self._model_hash = str(card["model_hash"])
        self.metadata = {"model_hash": self._model_hash}
        if card.get("coverage_target") is not None:
            self.metadata["coverage_target"] = card["coverage_target"]
        self._load, self._loaded = load, None

    def __getattr__(self, name: str) -> Any:  # only for what the card does not hold
        if name.startswith("__") or name in ("_load", "_loaded"):
            raise AttributeError(name)
        if self._loaded is None:
            self._loaded = self._load()
        return getattr(self._loaded, name)


def load_champion_card(tracking: Any) -> tuple[Any, str]:
    """(model, version) of the champion: a `CardModel` when its scorer card is beside its cached artefacts
    (`rexai recommend` and the `experiment_plan` runs write it), else the loaded ensemble, whose card is
    then written for the next call."""
    from rexai_assets.models import registry
    from rexai_assets.models.scorer import read_card, scorer_card, write_card

    info = registry.resolve_alias(tracking)
    if info is None:
        raise PlanningError("no champion yet: plans are made from a trained model (run `rexai run` first)")
    card = read_card(registry.cache_folder(info), info)
    if card is not None and card.get("feature_order_hash") == registry.current_feature_order_hash():
        uri = tracking if isinstance(tracking, str) else tracking.tracking_uri
        return CardModel(card, lambda: registry.load_version(info, uri, registry.current_feature_order_hash())), \
            str(info.version)
    model, version = load_version(tracking)
    write_card(registry.cache_folder(info), scorer_card(model, version))
    return model, version


def plan_cache(models_dir: Path) -> Any:
    """Where the scores of planning's pool are kept per (model hash, pool): beside serving's score cache."""
    from rexai_assets.models.score_cache import ScoreCache

    return ScoreCache(Path(models_dir) / "cache" / "plan_scores")


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


def plan_in(con: Any, tables: Any, model: tuple[Any, str], n: int | None = None, target: str | None = None,
            rival: Any = None, mix: Mapping[str, float] | None = None, proposal_id: str | None = None,
            pool_size: tuple[int, float] | None = None, cfg: Any = None, cache: Any = None) -> Plan:
    """Plan `n` experiments (planning.yaml batch_size) with `model`, excluding what `con`'s warehouse holds as
    measured or planned; the caller stores it (`insert_plan`) in the same transaction. `cfg` replaces
    planning.yaml (the benchmark's uncertainty-only baseline)."""
    from rexai_assets.planning.config import planning_settings

    cfg = cfg or planning_settings()
    sync_measured(con)
    return plan_experiments(tables, model[0], model[1], measured_recipes(con), planned_ids(con), cfg,
                            n or cfg.batch_size, presets_for(tables, target), mix=mix, rival=rival,
                            proposal_id=proposal_id, pool_size=pool_size, cache=cache)


def make_plan(warehouse: WarehouseClient, tables: Any, model: tuple[Any, str], **kwargs: Any) -> Plan:
    """`plan_in` and its storage in one transaction, so two planners never plan the same recipe."""
    with warehouse.transaction() as con:
        plan = plan_in(con, tables, model, **kwargs)
        insert_plan(con, plan)
    return plan


def tests_planner(tracking: Any, raw_dir: Path) -> Callable[[Any, Any, int], Plan]:
    """The second vote's planner: N recipes where the proposal's challenger and champion disagree most
    (without a champion, where the challenger's members disagree)."""

    def plan(con: Any, proposal: Any, n: int) -> Plan:
        from rexai_assets.raw.tables import load_raw_tables

        challenger = load_version(tracking, str(proposal.challenger_version))
        if proposal.champion_version is None:
            base, rival = challenger, None
        else:
            base, rival = load_version(tracking, str(proposal.champion_version)), challenger[0]
        return plan_in(con, load_raw_tables(raw_dir), base, n=n, rival=rival, mix={"disagreement": 1.0},
                       proposal_id=proposal.proposal_id)

    return plan


def benchmark_plot(root: Path, name: str) -> bytes | None:
    """A planning benchmark's PNG (`LEARNING_CURVE`, `CEILING_PLOT`) under the data root, when it has run."""
    path = Path(root) / BENCHMARK_FOLDER / name
    return path.read_bytes() if path.is_file() else None
