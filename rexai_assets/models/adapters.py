"""Per-habitat adapters on the shared champion, and their fail-closed application.

An adapter is a small residual model per target on top of a frozen base, the shared champion: it learns
`habitat measurement - shared prediction` on the target's scale (log for the costs) from that habitat's rows
only, with the shared prediction as an extra input, the way a low-rank adapter sits on a frozen base. It is
the measured correction's code (models/correction.py) with the shared champion as the prior: cross-fitted by
recipe, serving the mean of the full residual model and its fold models (`average_folds`), a target is
adapted only where the out-of-fold error on the habitat's trusted rows beats the shared model alone, and
those out-of-fold residuals calibrate the adapted target's 95 % interval on the habitat's own rows
(cross-conformal, models/conformal.py). Targets it does not adapt keep the shared prediction; they
keep the shared interval too, unless that interval covers the habitat's trusted rows significantly less
than the nominal 95 % (the coverage test of models/rules.py, on the shared model's honest values: out of
fold where it trained on the row). Then their interval is calibrated the same way on those honest shared
residuals (`shared_residuals`), so a habitat whose rows the shared interval under-covers is served an
interval calibrated on its own measurements.

Serving fails closed (`resolve_adapter`): the habitat's `champion` adapter is applied only when its MLflow
tag `habitat` and the habitat recorded in its artefact both equal the requested habitat, its artefact hash
equals its registered `model_hash`, its tag `base_model_hash` and its artefact's base hash both equal the
serving champion's model hash, and its feature order is the champion's. Anything else answers from the
shared model and says why (`AdapterDecision.note`); `--strict` callers turn a refusal into an error.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from rexai_assets.hashing import canonical_json
from rexai_assets.models.artefacts import METADATA_FILE, artefact_hash
from rexai_assets.models.conformal import TargetScale, measured_bounds, sharpest_scale
from rexai_assets.models.correction import CorrectionConfig, MeasuredCorrection, cross_fit_correction
from rexai_assets.models.scorer import HABITAT

# What serves a target's interval under an adapter (`HabitatAdapter.interval_sources`): the adapter's
# out-of-fold residuals, the shared model's honest residuals (both on the habitat's trusted rows), or the
# shared model's own interval. The first two are `calibrated_on: habitat` in serving.
ADAPTER_RESIDUALS, SHARED_RESIDUALS, SHARED_INTERVAL = "adapter", "shared_residuals", "shared"

FORMAT_VERSION = 1
SPEC_FILE = "adapter.json"
RESIDUAL_FILE = "residual.joblib"
REGISTERED_PREFIX = "rexai-habitat-"
CHAMPION, CHALLENGER = "champion", "challenger"
# The MLflow version tags the fail-closed checks read.
HABITAT_TAG, BASE_HASH_TAG, BASE_VERSION_TAG, HASH_TAG = "habitat", "base_model_hash", "base_model_version", "model_hash"


class AdapterRefused(ValueError):
    """An adapter exists for the habitat but must not be applied (`--strict`); one-line reason."""


def registered_name(habitat: str) -> str:
    """The adapter's own registered model: `rexai-habitat-<id>`."""
    return f"{REGISTERED_PREFIX}{habitat}"


def _bounds(target: str) -> tuple[float, float]:
    from rexai_assets.models.ensemble import TARGET_BOUNDS

    return TARGET_BOUNDS.get(target, (-math.inf, math.inf))


@dataclass(frozen=True)
class HabitatInterval:
    """A target's interval on the habitat: half-width `q` on `scale`, calibrated on `n` trusted habitat rows,
    on the residuals of `source` (ADAPTER_RESIDUALS or SHARED_RESIDUALS)."""

    scale: TargetScale
    q: float
    n: int
    valid: bool
    source: str = ADAPTER_RESIDUALS

    def interval(self, value: np.ndarray, target: str) -> tuple[np.ndarray, np.ndarray]:
        low, high = _bounds(target)
        lo, hi = measured_bounds(value, self.scale, self.q)
        return np.clip(lo, low, high), np.clip(hi, low, high)

    def to_dict(self) -> dict:
        return {"offset": self.scale.offset, "q": self.q, "n": self.n, "valid": self.valid, "source": self.source}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "HabitatInterval":
        """(Adapters saved before `source` existed calibrated adapted targets only.)"""
        return cls(TargetScale(data["offset"]), float(data["q"]), int(data["n"]), bool(data["valid"]),
                   str(data.get("source", ADAPTER_RESIDUALS)))


@dataclass
class HabitatAdapter:
    habitat: str
    base_model_hash: str
    base_model_version: str | None
    feature_order_hash: str
    target_names: tuple[str, ...]
    residual: MeasuredCorrection            # a fitted model only for the adapted targets
    intervals: dict[str, HabitatInterval]   # every adapted target's, and each re-calibrated target's, interval
    metadata: dict = field(default_factory=dict, compare=False)
    _hash: str | None = field(default=None, compare=False, repr=False)

    @property
    def adapted(self) -> tuple[str, ...]:
        return tuple(t for t in self.target_names if t in self.residual.models and t in self.intervals)

    def interval_sources(self) -> dict[str, str]:
        """Per target, what serves its interval: ADAPTER_RESIDUALS, SHARED_RESIDUALS or SHARED_INTERVAL."""
        adapted = self.adapted
        return {t: (ADAPTER_RESIDUALS if t in adapted else self.intervals[t].source if t in self.intervals
                    else SHARED_INTERVAL) for t in self.target_names}

    def calibrated_on(self, shared: Mapping[str, str] | None) -> dict[str, str] | None:
        """Serving's `calibrated_on` under this adapter: `habitat` where the habitat's rows calibrated the
        interval, the shared model's own regime (`shared`, None when it records none) elsewhere."""
        mine = {t: HABITAT for t, s in self.interval_sources().items() if s != SHARED_INTERVAL}
        return None if shared is None and not mine else {**dict(shared or {}), **mine}

    def apply(self, X: np.ndarray, base: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, dict[str, np.ndarray]]:
        """The base's {target: {"value", "lo", "hi"}} with the adapted targets' values replaced and every
        target with a habitat interval given it (around the adapted value, or the shared one)."""
        out = {t: dict(v) for t, v in base.items()}
        adapted = self.adapted
        for target in (t for t in self.target_names if t in self.intervals):
            value = np.asarray(base[target]["value"], dtype=float)
            if target in adapted:
                value = np.clip(self.residual.apply(X, value, target), *_bounds(target))
            lo, hi = self.intervals[target].interval(value, target)
            out[target] = {"value": value, "lo": lo, "hi": hi}
        return out

    def spec(self) -> dict:
        return {"format_version": FORMAT_VERSION, "habitat": self.habitat, "base_model_hash": self.base_model_hash,
                "base_model_version": self.base_model_version, "feature_order_hash": self.feature_order_hash,
                "target_names": list(self.target_names), "intervals": {t: i.to_dict() for t, i in self.intervals.items()}}

    def save(self, directory: str | Path) -> str:
        """Write the artefacts (spec, residual models; metadata.json outside the hash); return the hash."""
        from rexai_assets.atomic import write_text_atomic, write_with
        from rexai_assets.models.forest import save_sklearn_state

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_text_atomic(directory / SPEC_FILE, canonical_json(self.spec()) + "\n")
        write_with(directory / RESIDUAL_FILE, lambda p: save_sklearn_state(self.residual.state(), p))
        self._hash = artefact_hash(directory)
        write_text_atomic(directory / METADATA_FILE, json.dumps({**self.metadata, "model_hash": self._hash},
                                                                indent=2, sort_keys=True, default=str) + "\n")
        return self._hash

    @property
    def model_hash(self) -> str:
        if self._hash is None:
            with tempfile.TemporaryDirectory(prefix="rexai-adapter-") as tmp:
                self.save(tmp)
        return self._hash  # type: ignore[return-value]


def load_adapter(directory: str | Path) -> HabitatAdapter:
    """Rebuild a saved adapter (never trains); its hash is computed from the files read."""
    from rexai_assets.models.forest import load_sklearn_state

    directory = Path(directory)
    spec = json.loads((directory / SPEC_FILE).read_text())
    if spec.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{directory / SPEC_FILE}: format_version {spec.get('format_version')!r}, expected {FORMAT_VERSION}")
    metadata_path = directory / METADATA_FILE
    return HabitatAdapter(
        habitat=spec["habitat"], base_model_hash=spec["base_model_hash"], base_model_version=spec["base_model_version"],
        feature_order_hash=spec["feature_order_hash"], target_names=tuple(spec["target_names"]),
        residual=MeasuredCorrection.from_state(load_sklearn_state(directory / RESIDUAL_FILE)),
        intervals={t: HabitatInterval.from_dict(d) for t, d in spec["intervals"].items()},
        metadata=json.loads(metadata_path.read_text()) if metadata_path.exists() else {},
        _hash=artefact_hash(directory))


# ---------------------------------------------------------------------------------------------
# Training


@dataclass(frozen=True)
class AdapterData:
    """One habitat's rows outside its golden slice; `base` is the shared champion's honest values on them
    (out of fold where it trained on the row), `base_lo` / `base_hi` its interval around them."""

    X: np.ndarray
    Y: np.ndarray          # [n, targets] measured values (NaN where a target was not measured)
    W: np.ndarray          # gold weights (crew feedback at its lower weight)
    trusted: np.ndarray    # trusted measured sources (lab, iss_sim, analog_field): judge and calibrate
    groups: np.ndarray     # recipe ids: the cross-fitting folds keep a recipe's rows together
    base: np.ndarray       # [n, targets]
    base_lo: np.ndarray | None = None   # [n, targets]; None: the shared intervals are not checked
    base_hi: np.ndarray | None = None


def honest_interval(served: Mapping[str, np.ndarray], honest: np.ndarray, scale: TargetScale,
                    target: str) -> tuple[np.ndarray, np.ndarray]:
    """The shared interval {"value", "lo", "hi"} moved, on `scale`, from the served value to the honest one:
    the interval the shared model would have served on a row it had not trained on."""
    shift = scale.forward(honest) - scale.forward(np.asarray(served["value"], dtype=float))
    lo = scale.inverse(scale.forward(np.asarray(served["lo"], dtype=float)) + shift)
    hi = scale.inverse(scale.forward(np.asarray(served["hi"], dtype=float)) + shift)
    return np.clip(lo, *_bounds(target)), np.clip(hi, *_bounds(target))


@dataclass(frozen=True)
class BaseModel:
    """The frozen base an adapter is fitted on: what serving checks before applying it."""

    model_hash: str
    version: str | None
    feature_order_hash: str


def gain_p_value(y: np.ndarray, adapted: np.ndarray, shared: np.ndarray) -> tuple[float, float, float]:
    """(MAE shared, MAE adapted, one-sided p of a paired t-test that the adapted absolute errors are smaller)."""
    from scipy.stats import ttest_rel

    a, s = np.abs(adapted - y), np.abs(shared - y)
    if len(y) < 3 or np.allclose(a, s):
        return float(np.mean(s)) if len(y) else math.nan, float(np.mean(a)) if len(y) else math.nan, 1.0
    return float(np.mean(s)), float(np.mean(a)), float(ttest_rel(a, s, alternative="less").pvalue)


def choose_target(y: np.ndarray, oof: np.ndarray, shared: np.ndarray, min_rows: int, level: float) -> dict:
    """Adapt a target only with enough trusted rows and an out-of-fold gain in its own units that is
    significant at `level`: the gate judges MAE in units, and a gain within noise is more likely to fail
    its no-regression bound on the golden slice than to help."""
    mae_shared, mae_adapted, p = gain_p_value(y, oof, shared)
    return {"rows": int(len(y)), "oof_mae_shared": mae_shared, "oof_mae_adapted": mae_adapted, "gain_p_value": p,
            "adapted": bool(len(y) >= min_rows and p < level)}


def shared_interval_verdict(y: np.ndarray, lo: np.ndarray, hi: np.ndarray, coverage: float, level: float) -> Any:
    """The gate's coverage test (models/rules.py) of the shared interval on the habitat's honest rows."""
    from rexai_assets.models.rules import coverage_verdict

    return coverage_verdict(int(np.sum((y >= lo) & (y <= hi))), len(y), coverage, level)


def recalibrate_shared(data: AdapterData, j: int, use: np.ndarray, target: str, scales: list[TargetScale],
                       coverage: float, level: float, min_rows: int) -> tuple[HabitatInterval | None, dict]:
    """A target the adapter does not adapt: its interval calibrated on the shared model's honest residuals of
    the habitat's trusted rows when the shared interval covers them significantly less than `coverage` (and
    there are `min_rows` of them); else None (the shared interval serves). With the verdict, for the report."""
    if data.base_lo is None or data.base_hi is None or not use.any():
        return None, {}
    y, honest = data.Y[use, j], data.base[use, j]
    verdict = shared_interval_verdict(y, data.base_lo[use, j], data.base_hi[use, j], coverage, level)
    report = {"shared_interval": verdict.to_dict()}
    if not verdict.significantly_below or len(y) < min_rows:
        return None, report
    scale, q, valid = sharpest_scale(y, honest, list(scales), coverage, *_bounds(target))
    return HabitatInterval(scale, q, int(len(y)), valid, SHARED_RESIDUALS), report


def fit_adapter(habitat: str, data: AdapterData, base: BaseModel, targets: Sequence[str],
                scales: Mapping[str, TargetScale], interval_scales: Mapping[str, list[TargetScale]],
                cfg: CorrectionConfig, min_target_rows: int, coverage: float, seed: int,
                gain_level: float = 0.05, coverage_level: float = 0.01) -> HabitatAdapter:
    """Cross-fit the residual per target on its scale (models/correction.py), keep the targets whose gain
    is significant (`choose_target`) and calibrate their intervals on the out-of-fold residuals of the
    habitat's trusted rows; re-calibrate the others' where the shared interval under-covers those rows
    (`recalibrate_shared`, the gate's coverage test at `coverage_level`)."""
    on = lambda M: np.column_stack([scales[t].forward(M[:, j]) for j, t in enumerate(targets)])  # noqa: E731
    fit = cross_fit_correction(data.X, on(data.Y), data.W, on(data.base), data.trusted, data.groups, tuple(targets),
                               cfg, seed)
    residual, intervals, report = fit.correction, {}, {}
    residual.offsets = {t: scales[t].offset for t in targets}
    # A habitat's rows are few: the mean of the full model and its fold models varies less than the full
    # model alone (habitats/bench.py at default size, three realities: 12 of 12 adapted targets' holdout
    # error lower; README "Habitat adapters").
    # Its intervals stay calibrated on single fold models' out-of-fold residuals: if anything, conservative.
    residual.average_folds = True
    for j, target in enumerate(targets):
        use = ~np.isnan(data.Y[:, j]) & data.trusted
        oof = np.clip(scales[target].inverse(fit.oof[use, j]), *_bounds(target))
        report[target] = {**fit.report[target], **choose_target(data.Y[use, j], oof, data.base[use, j],
                                                                min_target_rows, gain_level)}
        if target in residual.models and report[target]["adapted"]:
            scale, q, valid = sharpest_scale(data.Y[use, j], oof, list(interval_scales[target]), coverage,
                                             *_bounds(target))
            intervals[target] = HabitatInterval(scale, q, int(use.sum()), valid)
            continue
        residual.models.pop(target, None)
        report[target]["adapted"] = False
        found, checked = recalibrate_shared(data, j, use, target, interval_scales[target], coverage, coverage_level,
                                            min_target_rows)
        report[target].update(checked)
        if found is not None:
            intervals[target] = found
    return HabitatAdapter(habitat, base.model_hash, base.version, base.feature_order_hash, tuple(targets), residual,
                          intervals, metadata={"habitat": habitat, "base_model_hash": base.model_hash,
                                               "base_model_version": base.version, "coverage_target": coverage,
                                               "rows": int(len(data.X)), "trusted_rows": int(data.trusted.sum()),
                                               "targets": report})


# ---------------------------------------------------------------------------------------------
# Serving: resolve, check, apply


@dataclass(frozen=True)
class AdapterDecision:
    """What serving did for a habitat: the adapter version applied, or why none was (and whether one was refused)."""

    habitat: str
    adapter_version: str | None
    note: str | None = None
    refused: bool = False

    def document(self) -> dict:
        """The keys `rexai predict / recommend / plan-experiments --json` add."""
        out: dict[str, Any] = {"habitat": self.habitat, "adapter_version": self.adapter_version}
        if self.note:
            out["adapter_note"] = self.note
        return out


def model_hash_of(model: Any) -> str | None:
    """The registered model hash of a loaded shared model (recorded when it was saved or loaded)."""
    return getattr(model, "_model_hash", None) or (getattr(model, "metadata", None) or {}).get("model_hash")


def refusal(adapter: HabitatAdapter, tags: Mapping[str, str], version: str, habitat: str,
            base_hash: str | None, feature_order_hash: str | None) -> str | None:
    """Why this adapter must not serve `habitat` on the base whose hash is `base_hash` (None: it may)."""
    what = f"adapter v{version} of {registered_name(habitat)}"
    if tags.get(HABITAT_TAG) != habitat:
        return f"{what} is tagged habitat {tags.get(HABITAT_TAG)!r}, not {habitat!r}"
    if adapter.habitat != habitat:
        return f"{what} was trained for habitat {adapter.habitat!r}, not {habitat!r}"
    if tags.get(HASH_TAG) != adapter.model_hash:
        return f"{what}: its artefacts' hash {adapter.model_hash[:12]} is not its registered model_hash"
    if base_hash is None:
        return f"{what}: no shared champion model to adapt (the heuristic serves)"
    for source, recorded in (("tag", tags.get(BASE_HASH_TAG)), ("artefact", adapter.base_model_hash)):
        if recorded != base_hash:
            return (f"{what} was built on base model {str(recorded)[:12]} (v{adapter.base_model_version}, {source}), "
                    f"the serving champion is {base_hash[:12]}")
    if feature_order_hash is not None and adapter.feature_order_hash != feature_order_hash:
        return f"{what} was trained on another feature order than the serving champion"
    return None


def status_path(models_dir: Path, habitat: str) -> Path:
    """`models/habitats/<id>.json`: the habitat's last adapter outcome (rows, decision), written by the habitats layer."""
    return Path(models_dir) / "habitats" / f"{habitat}.json"


def no_adapter_note(habitat: str, models_dir: Path | None) -> str:
    """Why no adapter serves a habitat, from its last recorded outcome."""
    path = status_path(models_dir, habitat) if models_dir is not None else None
    try:
        status = json.loads(path.read_text()) if path is not None else None
    except (OSError, ValueError):
        status = None
    if not status or not status.get("note"):
        return f"no adapter: none trained for habitat {habitat} yet"
    return f"no adapter: {status['note']}"


def download_adapter(client: Any, info: Any) -> HabitatAdapter:
    """The registered version's artefacts, kept once downloaded (a version's source never changes; the
    hash checks of `refusal` run on every call, so a changed copy is refused, never trusted)."""
    import mlflow

    from rexai_assets.models.registry import cache_folder

    cached = cache_folder(info)
    if (cached / SPEC_FILE).exists():
        return load_adapter(cached)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rexai-load-", dir=cached.parent) as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=info.source, dst_path=tmp,
                                                         tracking_uri=client.tracking_uri))
        adapter = load_adapter(local)
        if not cached.exists():
            try:
                os.replace(local, cached)
            except OSError:
                pass  # another process published it first
    return adapter


def base_identity(base: Any) -> tuple[str | None, str | None]:
    """(model hash, feature order hash) of what serves: a `Scorer` (its recorded hash, or its model's) or a
    loaded ensemble. A scorer's own record is preferred: a scorer may serve from a cache without its model."""
    if hasattr(base, "predict_fn"):
        model = getattr(base, "model", None)
        return (getattr(base, "model_hash", None) or (model_hash_of(model) if model is not None else None),
                getattr(base, "feature_order_hash", None) or getattr(model, "feature_order_hash", None))
    return model_hash_of(base), getattr(base, "feature_order_hash", None)


def resolve_adapter(habitat: str, base_model: Any, tracking: Any, models_dir: Path | None
                    ) -> tuple[HabitatAdapter | None, AdapterDecision]:
    """The habitat's champion adapter if every fail-closed check passes for `base_model` (a Scorer or a loaded
    ensemble), and the decision."""
    from rexai_assets.models import registry

    client, _ = registry.registry_client(tracking)
    name = registered_name(habitat)
    version = registry.get_alias_version(client, CHAMPION, name)
    if version is None:
        return None, AdapterDecision(habitat, None, no_adapter_note(habitat, models_dir))
    info = registry.version_info(client, name, version)
    try:
        adapter = download_adapter(client, info)
    except (OSError, ValueError, KeyError) as exc:
        reason = f"adapter v{version} of {name} cannot be loaded ({type(exc).__name__})"
    else:
        reason = refusal(adapter, info.tags, str(version), habitat, *base_identity(base_model))
    if reason is not None:
        return None, AdapterDecision(habitat, None, f"{reason}; served by the shared model", refused=True)
    return adapter, AdapterDecision(habitat, str(version))


def adapted_scorer(base: Any, adapter: HabitatAdapter, version: str | None = None) -> Any:
    """A `Scorer` (models/scorer.py) that predicts with `base` and applies `adapter` (registered `version`) on
    top; it records which adapter serves (the inference log reads it)."""
    def predict(X: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        return adapter.apply(X, base.predict_fn(X))

    return dataclasses.replace(base, predict_fn=predict, calibrated_on=adapter.calibrated_on(base.calibrated_on),
                               habitat=adapter.habitat, adapter_version=version)


class AdaptedModel:
    """A loaded shared ensemble with an adapter on its served values (planning scores pools with the model
    itself: `predict_with_members`); every other attribute is the base's."""

    def __init__(self, base: Any, adapter: HabitatAdapter, version: str | None = None):
        self._base, self.adapter, self.adapter_version = base, adapter, version

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)

    def predict(self, X: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        return self.adapter.apply(X, self._base.predict(X))

    def predict_with_members(self, X: np.ndarray) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
        pred, members = self._base.predict_with_members(X)
        return self.adapter.apply(X, pred), members


def for_habitat(base: Any, habitat: str | None, tracking: Any, models_dir: Path | None, strict: bool = False,
                wrap: Any = adapted_scorer) -> tuple[Any, AdapterDecision | None]:
    """`base` (a Scorer, or a loaded ensemble with `wrap=AdaptedModel`) adapted to `habitat` when allowed;
    without a habitat, `base` itself. `strict` raises AdapterRefused instead of answering from the shared model."""
    if habitat is None:
        return base, None
    adapter, decision = resolve_adapter(habitat, base, tracking, models_dir)
    if decision.refused and strict:
        raise AdapterRefused(decision.note)
    return (base if adapter is None else wrap(base, adapter, decision.adapter_version)), decision
