"""What serving scores with: the champion ensemble resolved at call time, or the heuristic (degraded mode).

A `Scorer` wraps either a `TrainedEnsemble` (`source = "model"`) or `heuristic_props` with the fixed,
uncalibrated band of `config/models.yaml` (`source = "heuristic"`), behind one vectorised interface:
`predict(X) -> {target: {"value", "lo", "hi"}}` on a float64 matrix in feature-contract order.
The intervals' nominal level is `coverage_target` (the ensemble's metadata, default 0.95; the heuristic's
fixed band is read as 95 %), and `calibrated_on` says, per target, on what the intervals were calibrated:
"measured" or "simulated" (the ensemble's metadata `calibrated_on`; None for a model that predates it)
or "uncalibrated" (the heuristic); under a habitat's adapter, "habitat" where the habitat's own measured rows
calibrated the interval (models/adapters.py). `calibration_note` turns it into the one line the CLI prints.
The alias is resolved on every `load_scorer` call, so a promotion takes effect on the next call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

MODEL, HEURISTIC = "model", "heuristic"
CARD_FILE = "scorer_card.json"
MEASURED, SIMULATED, UNCALIBRATED, HABITAT = "measured", "simulated", "uncalibrated", "habitat"
DEFAULT_COVERAGE = 0.95


class ServingError(ValueError):
    """Serving cannot proceed (e.g. the model and the feature contract disagree); one-line reason."""


@dataclass
class Scorer:
    source: str                       # "model" | "heuristic"
    version: str | None               # registered model version (None for the heuristic)
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    predict_fn: Callable[[np.ndarray], dict[str, dict[str, np.ndarray]]]
    novelty_fn: Callable[[np.ndarray], np.ndarray] | None = None
    importances: dict[str, np.ndarray] | None = None   # target -> importance per feature (sums to 1)
    model: Any = field(default=None, repr=False)
    # target -> "measured" | "simulated" | "uncalibrated" (| "habitat"); None when the model does not record it
    calibrated_on: dict[str, str] | None = None
    coverage_target: float = DEFAULT_COVERAGE   # nominal level of the lo/hi intervals
    model_hash: str | None = None               # artefact hash of the model (None for the heuristic)
    feature_order_hash: str | None = None       # the feature contract the model was trained on
    habitat: str | None = None                  # the habitat whose adapter is applied (models/adapters.py)
    adapter_version: str | None = None          # that adapter's registered version; None: the shared model

    def predict(self, X: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise ServingError(f"expected {len(self.feature_names)} features in contract order, got shape {X.shape}")
        return self.predict_fn(X)

    def novelty(self, X: np.ndarray) -> np.ndarray:
        if self.novelty_fn is None:
            return np.full(len(X), np.nan)
        return np.asarray(self.novelty_fn(np.asarray(X, dtype=np.float64)), dtype=float)


def tracking_uri(data_root: Path | None = None) -> str:
    """The MLflow URI of the current environment, without importing Dagster (keeps the CLI start-up light)."""
    from rexai_assets.paths import layout

    return layout(data_root).tracking_uri


def heuristic_band(target: str, value: np.ndarray, band: Any) -> tuple[np.ndarray, np.ndarray]:
    """The documented degraded-mode band (config/models.yaml `heuristic_interval`): value ± absolute[target]
    for the 0..1 targets, value · (1 ± relative) for the costs, clipped to the target's physical range.
    A reminder of how little the rule set knows, not a 95 % interval."""
    from rexai_assets.models.ensemble import TARGET_BOUNDS

    value = np.asarray(value, dtype=float)
    low, high = TARGET_BOUNDS.get(target, (-np.inf, np.inf))
    half = np.full_like(value, band.absolute[target]) if target in band.absolute else np.abs(value) * band.relative
    return np.clip(value - half, low, high), np.clip(value + half, low, high)


def heuristic_scorer(feature_names: tuple[str, ...] | None = None) -> Scorer:
    """The degraded-mode scorer: `heuristic_props` with the fixed band of models.yaml `heuristic_interval`."""
    from rexai_assets.gold.contract import TARGETS, feature_names as contract_names
    from rexai_assets.gold.heuristic import heuristic_props
    from rexai_assets.models.config import models_config

    names = tuple(feature_names or contract_names())
    band = models_config().heuristic_interval

    def predict(X: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        props = heuristic_props(pd.DataFrame(X, columns=list(names)))
        out = {}
        for target in TARGETS:
            value = props[target].to_numpy(dtype=float)
            lo, hi = heuristic_band(target, value, band)
            out[target] = {"value": value, "lo": lo, "hi": hi}
        return out

    return Scorer(HEURISTIC, None, names, tuple(TARGETS), predict,
                  calibrated_on={t: UNCALIBRATED for t in TARGETS}, coverage_target=DEFAULT_COVERAGE)


def forest_importances(ensemble: Any) -> dict[str, np.ndarray] | None:
    """Per-target impurity importances of the ensemble's forest (it is always part of the artefact)."""
    forest = getattr(ensemble, "forest", None)
    if forest is None or not getattr(forest, "forests", None):
        return None
    out = {}
    for target, model in zip(forest.target_names, forest.forests):
        values = np.asarray(getattr(model, "feature_importances_", np.zeros(len(ensemble.feature_names))), dtype=float)
        total = values.sum()
        out[target] = values / total if total > 0 else values
    return out


def calibration_sources(recorded: Any, targets: Sequence[str]) -> dict[str, str] | None:
    """The ensemble's metadata `calibrated_on` as {target: source} in target order; None if not recorded."""
    if not isinstance(recorded, Mapping):
        return None
    out = {t: str(recorded[t]) for t in targets if t in recorded}
    out.update({str(k): str(v) for k, v in recorded.items() if k not in out})
    return out


def recorded_model_hash(ensemble: Any) -> str | None:
    """The hash recorded when the model was saved or loaded (never re-serialised here); None: not cached by hash."""
    return getattr(ensemble, "_model_hash", None) or (getattr(ensemble, "metadata", None) or {}).get("model_hash")


def scorer_card(ensemble: Any, version: str | None) -> dict[str, Any]:
    """What a scorer needs of a loaded ensemble besides its predictions (JSON-able): kept beside the cached
    artefacts so a repeated pool is served without loading the ensemble (score_cache.py)."""
    metadata = getattr(ensemble, "metadata", None) or {}
    importances = forest_importances(ensemble)
    model_hash = recorded_model_hash(ensemble)
    return {"version": None if version is None else str(version), "model_hash": model_hash,
            "feature_order_hash": getattr(ensemble, "feature_order_hash", None),
            "feature_names": list(ensemble.feature_names), "target_names": list(ensemble.target_names),
            "calibrated_on": metadata.get("calibrated_on"), "coverage_target": metadata.get("coverage_target"),
            "importances": None if importances is None else {t: v.tolist() for t, v in importances.items()},
            "novelty": getattr(ensemble, "autoencoder", None) is not None}


def scorer_from_card(card: Mapping[str, Any], model: Callable[[], Any], cache: Any = None) -> Scorer:
    """A scorer over `model()` (called at most once, when a prediction is not in `cache`), described by `card`."""
    from rexai_assets.models.score_cache import MIN_ROWS, ScoredPool, pool_key

    loaded: list[Any] = []
    targets = tuple(card["target_names"])

    def ensemble() -> Any:
        if not loaded:
            loaded.append(model())
        return loaded[0]

    def pool(X: np.ndarray) -> Any:
        if cache is None or not card.get("model_hash") or len(X) < MIN_ROWS:
            return None
        key = pool_key(card["model_hash"], X)
        scored = cache.get(key, targets)
        if scored is None:
            scored = ScoredPool(ensemble().predict(X), ensemble().novelty(X) if card["novelty"] else None)
            cache.put(key, scored)
        return scored

    def predict(X: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        scored = pool(X)
        return scored.predictions if scored is not None else ensemble().predict(X)

    def novelty(X: np.ndarray) -> np.ndarray:
        scored = pool(X)
        return scored.novelty if scored is not None else ensemble().novelty(X)

    return _card_scorer(card, predict, novelty if card["novelty"] else None)


def _card_scorer(card: Mapping[str, Any], predict: Callable, novelty: Callable | None) -> Scorer:
    recorded = card.get("coverage_target")
    coverage = DEFAULT_COVERAGE if recorded is None else float(recorded)
    if not 0.0 < coverage < 1.0:
        raise ServingError(f"model metadata coverage_target {coverage!r} is not a probability in (0, 1)")
    targets = tuple(card["target_names"])
    importances = card.get("importances")
    return Scorer(MODEL, card.get("version"), tuple(card["feature_names"]), targets, predict, novelty,
                  None if importances is None else {t: np.asarray(v, dtype=float) for t, v in importances.items()},
                  calibrated_on=calibration_sources(card.get("calibrated_on"), targets), coverage_target=coverage,
                  model_hash=card.get("model_hash"), feature_order_hash=card.get("feature_order_hash"))


def ensemble_scorer(ensemble: Any, version: str | None, cache: Any = None) -> Scorer:
    """A scorer over a loaded `TrainedEnsemble` (pools kept in `cache` when one is given)."""
    scorer = scorer_from_card(scorer_card(ensemble, version), lambda: ensemble, cache)
    scorer.model = ensemble
    return scorer


def calibration_note(calibrated_on: Mapping[str, str] | None, targets: Sequence[str] = ()) -> str:
    """One line for people: on what each target's intervals were calibrated, and a plain warning for
    the targets calibrated on simulation only (or not at all)."""
    if not calibrated_on:
        return "intervals calibrated on: not recorded by this model version"
    names = [t for t in targets if t in calibrated_on] + [t for t in calibrated_on if t not in targets]
    groups: dict[str, list[str]] = {}
    for target in names:
        groups.setdefault(str(calibrated_on[target]), []).append(target)
    missing = [t for t in targets if t not in calibrated_on]
    if missing:
        groups.setdefault("not recorded", []).extend(missing)
    order = [HABITAT, MEASURED, SIMULATED, UNCALIBRATED]
    sources = sorted(groups, key=lambda s: (order.index(s) if s in order else len(order), s))
    line = "intervals calibrated on: " + "; ".join(f"{s} ({', '.join(groups[s])})" for s in sources)
    if SIMULATED in groups:
        line += (f" — calibrated on simulation only for: {', '.join(groups[SIMULATED])}; "
                 "intervals include the simulator-to-reality allowance")
    if UNCALIBRATED in groups:
        line += " — a fixed heuristic band, not calibrated on any data"
    return line


def check_contract(ensemble: Any) -> None:
    """Refuse a model whose feature order differs from the current feature contract."""
    from rexai_assets.gold.contract import feature_order_hash

    current = feature_order_hash()
    if getattr(ensemble, "feature_order_hash", current) != current:
        raise ServingError(f"model feature_order_hash {str(ensemble.feature_order_hash)[:12]} does not match the "
                           f"current feature contract ({current[:12]}); retrain or restore config/feature_contract.yaml")


def load_model(mlflow: Any = None, alias: str = "champion") -> tuple[Any, str] | None:
    """(ensemble, version) holding `alias` now, or None when no version holds it.

    `mlflow` is an `MlflowTracking` resource or a tracking URI (default: this environment's)."""
    from rexai_assets.models import registry

    source = mlflow if mlflow is not None else tracking_uri()
    try:
        found = registry.load_model_by_alias(source, alias=alias)
    except registry.FeatureContractMismatch as exc:
        raise ServingError(str(exc)) from None
    if found is None:
        return None
    ensemble, info = found
    check_contract(ensemble)
    return ensemble, str(getattr(info, "version", info))


def model_identity(scorer: Scorer) -> dict[str, str | None]:
    """What the inference log records about the model behind a scorer: the shared model, and the habitat
    adapter applied on it (None, None when the shared model answered)."""
    from rexai_assets.gold.contract import feature_order_hash

    return {"model_source": scorer.source, "model_version": scorer.version, "model_hash": scorer.model_hash,
            "feature_order_hash": scorer.feature_order_hash or feature_order_hash(),
            "habitat": scorer.habitat, "adapter_version": scorer.adapter_version}


def log_served(folder: Path, command: str, scorer: Scorer, served: Sequence[Any], preset: str | None,
               started: float) -> Path | None:
    """Append one serving call to the inference log (`inference_log`); `started` is its `time.perf_counter()`."""
    import time

    from rexai_assets.inference_log import log_inference

    return log_inference(folder, command, model_identity(scorer), served, preset,
                         latency_ms=(time.perf_counter() - started) * 1000.0)


def load_scorer(mlflow: Any = None, alias: str = "champion") -> Scorer:
    """The version holding `alias` now as a scorer (the heuristic when none does).

    Its card (`scorer_card`) and artefacts are read from the local model cache, and repeated candidate
    pools from the score cache, so a warm call imports neither MLflow, scikit-learn nor torch; the
    ensemble is loaded only when something must be scored."""
    from rexai_assets.models import registry
    from rexai_assets.models.score_cache import ScoreCache
    from rexai_assets.paths import layout

    source = mlflow if mlflow is not None else tracking_uri()
    info = registry.resolve_alias(source, alias)
    if info is None:
        return heuristic_scorer()
    cache = ScoreCache(layout().models / "cache" / "scores")
    card = read_card(registry.cache_folder(info), info)
    tracking = source if isinstance(source, str) else source.tracking_uri
    if card is None:
        ensemble = _load_checked(info, tracking)
        write_card(registry.cache_folder(info), scorer_card(ensemble, info.version))
        return ensemble_scorer(ensemble, info.version, cache)
    check_contract(SimpleNamespace(feature_order_hash=card.get("feature_order_hash")))
    return scorer_from_card(card, lambda: _load_checked(info, tracking), cache)


def _load_checked(info: Any, tracking: str) -> Any:
    from rexai_assets.models import registry

    try:
        ensemble = registry.load_version(info, tracking)
    except registry.FeatureContractMismatch as exc:
        raise ServingError(str(exc)) from None
    check_contract(ensemble)
    return ensemble


def read_card(folder: Path, info: Any) -> dict[str, Any] | None:
    """The scorer card kept beside a cached version's artefacts, if it describes that version's model."""
    import json

    path = folder / CARD_FILE
    try:
        card = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    expected = (getattr(info, "tags", None) or {}).get("model_hash")
    if card.get("version") != str(info.version) or not card.get("model_hash") or (expected and card["model_hash"] != expected):
        return None
    return card


def write_card(folder: Path, card: Mapping[str, Any]) -> None:
    import json

    from rexai_assets.atomic import write_text_atomic

    if folder.exists():  # only beside artefacts that were cached (a failed download leaves no folder)
        write_text_atomic(folder / CARD_FILE, json.dumps(card, sort_keys=True))
