"""The served model: a per-target weighted ensemble with conformal 95 % intervals.

Validation rows are split once (seeded) into a *selection* half, which chooses members and weights,
and a *calibration* half, which calibrates the intervals of the ensemble as served (never of a
member), so neither choice is scored on the rows that made it. The interval scale is the spread of
the forest's trees, so the forest is always part of the artefact even where it has no weight.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from rexai_assets.hashing import canonical_json, jsonable, sha256_bytes, sha256_file
from rexai_assets.models.boosting import BoostingMember, fit_boosting
from rexai_assets.models.conformal import NormalisedConformal, calibrate
from rexai_assets.models.config import ModelsConfig, models_config, models_config_hash
from rexai_assets.models.correction import MeasuredCorrection, fit_correction
from rexai_assets.models.forest import ForestMember, fit_forest, load_sklearn_state, save_sklearn_state
from rexai_assets.models.metrics import normalised_mae, per_target_metrics

FORMAT_VERSION = 1
ENSEMBLE_FILE = "ensemble.json"
METADATA_FILE = "metadata.json"
SIMULATED = "simulated"
# Labelled measured validation rows (per target) from which the intervals are calibrated on
# measurements alone: once reality is observed, the served intervals must cover reality, and a
# model that learns it is expected to drift from the simulator.
MIN_MEASURED_CALIBRATION = 30
INTERVALS_METHOD = ("split-conformal on normalised residuals |y - ensemble| / forest tree-std, "
                    "calibrated per target on a seeded half of the labelled validation rows (the measured "
                    f"ones alone once at least {MIN_MEASURED_CALIBRATION} are labelled)")
# Physical ranges of the contract targets; predictions and interval ends are clipped to them.
TARGET_BOUNDS = {"rigidity": (0.0, 1.0), "tightness": (0.0, 1.0), "energy_kwh": (0.0, math.inf),
                 "water_l": (0.0, math.inf), "crew_min": (0.0, math.inf)}
# With fewer labelled validation rows per half, selection and calibration share all of them.
MIN_ROWS_PER_HALF = 20
# A member joins the greedy selection only if it lowers selection MAE by more than this share.
MIN_RELATIVE_GAIN = 1e-3

Heuristic = Callable[[pd.DataFrame], pd.DataFrame]


class FeatureContractMismatch(ValueError):
    """A model and the current feature contract disagree on the features or their order."""


def _bounds(target: str) -> tuple[float, float]:
    return TARGET_BOUNDS.get(target, (-math.inf, math.inf))


@dataclass
class TrainedEnsemble:
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    feature_order_hash: str
    forest: ForestMember
    boosting: BoostingMember | None
    tab_transformer: Any | None  # TabTransformerMember (torch_models is imported lazily)
    autoencoder: Any | None  # AutoencoderMember
    weights: dict[str, dict[str, float]]
    calibration: dict[str, NormalisedConformal]
    forest_calibration: dict[str, NormalisedConformal]
    novelty_reference: dict[str, float] = field(default_factory=dict)
    correction: MeasuredCorrection | None = None
    metadata: dict = field(default_factory=dict, compare=False)
    _model_hash: str | None = field(default=None, compare=False, repr=False)

    # ----------------------------------------------------------------- prediction
    @property
    def members(self) -> dict[str, Any]:
        found = {"forest": self.forest, "boosting": self.boosting, "tab_transformer": self.tab_transformer}
        return {k: v for k, v in found.items() if v is not None}

    def _check_width(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise FeatureContractMismatch(
                f"expected {len(self.feature_names)} features in contract order, got array of shape {X.shape}")
        return X

    def member_predictions(self, X: np.ndarray, names: Sequence[str] | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Predictions [n, n_targets] of the named members (default: those with weight) and the tree std."""
        X = self._check_width(X)
        if names is None:
            names = sorted({m for w in self.weights.values() for m, v in w.items() if v > 0})
        if len(X) == 0:
            empty = np.zeros((0, len(self.target_names)))
            return {name: empty for name in names}, empty
        mean, spread = self.forest.predict_with_spread(X)
        out = {"forest": mean} if "forest" in names else {}
        for name in names:
            if name != "forest":
                out[name] = self.members[name].predict(X)
        return out, spread

    def point_predictions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Served values [n, n_targets] (prior + measured correction) and the forest's tree std."""
        X = self._check_width(X)
        preds, spread = self.member_predictions(X)
        values = np.zeros((len(X), len(self.target_names)))
        for j, target in enumerate(self.target_names):
            values[:, j] = combine(preds, self.weights[target], j, target)
            if self.correction is not None:
                values[:, j] = np.clip(values[:, j] + self.correction.delta(X, values[:, j], target), *_bounds(target))
        return values, spread

    def predict(self, X: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """{target: {"value", "lo", "hi"}} with 95 % (config `coverage_target`) conformal intervals."""
        values, spread = self.point_predictions(X)
        out = {}
        for j, target in enumerate(self.target_names):
            value = values[:, j]
            lo, hi = self.calibration[target].interval(value, spread[:, j])
            low, high = _bounds(target)
            out[target] = {"value": value, "lo": np.clip(lo, low, high), "hi": np.clip(hi, low, high)}
        return out

    def predict_forest(self, X: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """The forest alone with its own conformal intervals (reported beside the ensemble)."""
        X = self._check_width(X)
        if len(X) == 0:
            mean = spread = np.zeros((0, len(self.target_names)))
        else:
            mean, spread = self.forest.predict_with_spread(X)
        out = {}
        for j, target in enumerate(self.target_names):
            low, high = _bounds(target)
            value = np.clip(mean[:, j], low, high)
            lo, hi = self.forest_calibration[target].interval(value, spread[:, j])
            out[target] = {"value": value, "lo": np.clip(lo, low, high), "hi": np.clip(hi, low, high)}
        return out

    def features_array(self, features: pd.DataFrame) -> np.ndarray:
        missing = [f for f in self.feature_names if f not in features.columns]
        if missing:
            raise FeatureContractMismatch(f"features frame lacks {len(missing)} model feature(s): {', '.join(missing[:5])}")
        return features[list(self.feature_names)].to_numpy(dtype=np.float64)

    def predict_frame(self, features: pd.DataFrame) -> pd.DataFrame:
        """Columns `t`, `t_lo`, `t_hi` per target, on the frame's index; features are taken by name."""
        pred = self.predict(self.features_array(features))
        columns = {}
        for target in self.target_names:
            columns[target] = pred[target]["value"]
            columns[f"{target}_lo"] = pred[target]["lo"]
            columns[f"{target}_hi"] = pred[target]["hi"]
        return pd.DataFrame(columns, index=features.index)

    def novelty(self, X: np.ndarray) -> np.ndarray:
        """Autoencoder reconstruction error per row (compare with `novelty_reference`)."""
        if self.autoencoder is None:
            raise RuntimeError("this ensemble was trained without an autoencoder")
        return self.autoencoder.novelty(self._check_width(X))

    def latent(self, X: np.ndarray) -> np.ndarray:
        if self.autoencoder is None:
            raise RuntimeError("this ensemble was trained without an autoencoder")
        return self.autoencoder.latent(self._check_width(X))

    # ----------------------------------------------------------------- persistence
    def _spec(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "feature_names": list(self.feature_names),
            "target_names": list(self.target_names),
            "feature_order_hash": self.feature_order_hash,
            "weights": self.weights,
            "calibration": {t: c.to_dict() for t, c in self.calibration.items()},
            "forest_calibration": {t: c.to_dict() for t, c in self.forest_calibration.items()},
            "novelty_reference": self.novelty_reference,
            "members": sorted(self.members) + (["autoencoder"] if self.autoencoder is not None else [])
                       + (["correction"] if self.correction is not None else []),
        }

    def save(self, directory: str | Path) -> str:
        """Write the artefacts into `directory` (created) and return the model hash."""
        from rexai_assets.atomic import write_bytes_atomic, write_text_atomic, write_with

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_text_atomic(directory / ENSEMBLE_FILE, canonical_json(self._spec()) + "\n")
        write_with(directory / "forest.joblib", lambda p: save_sklearn_state(self.forest.state(), p))
        if self.boosting is not None:
            write_with(directory / "boosting.joblib", lambda p: save_sklearn_state(self.boosting.state(), p))
        if self.correction is not None:
            write_with(directory / "correction.joblib", lambda p: save_sklearn_state(self.correction.state(), p))
        if self.tab_transformer is not None or self.autoencoder is not None:
            from rexai_assets.models.torch_models import state_bytes

            if self.tab_transformer is not None:
                write_bytes_atomic(directory / "tab_transformer.pt", state_bytes(self.tab_transformer.payload()))
            if self.autoencoder is not None:
                write_bytes_atomic(directory / "autoencoder.pt", state_bytes(self.autoencoder.payload()))
        self._model_hash = artefact_hash(directory)
        metadata = dict(self.metadata, model_hash=self._model_hash)
        write_text_atomic(directory / METADATA_FILE, json.dumps(jsonable(metadata), indent=2, sort_keys=True) + "\n")
        return self._model_hash

    @classmethod
    def load(cls, directory: str | Path) -> "TrainedEnsemble":
        """Rebuild a saved ensemble; never trains."""
        directory = Path(directory)
        spec_path = directory / ENSEMBLE_FILE
        if not spec_path.exists():
            raise FileNotFoundError(f"{spec_path}: not a saved rexai ensemble (no {ENSEMBLE_FILE})")
        spec = json.loads(spec_path.read_text())
        if spec.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{spec_path}: format_version {spec.get('format_version')!r}, expected {FORMAT_VERSION}")
        forest = ForestMember.from_state(load_sklearn_state(directory / "forest.joblib"))
        boosting = (BoostingMember.from_state(load_sklearn_state(directory / "boosting.joblib"))
                    if (directory / "boosting.joblib").exists() else None)
        correction = (MeasuredCorrection.from_state(load_sklearn_state(directory / "correction.joblib"))
                      if (directory / "correction.joblib").exists() else None)
        tab_transformer = autoencoder = None
        if (directory / "tab_transformer.pt").exists() or (directory / "autoencoder.pt").exists():
            from rexai_assets.models.torch_models import AutoencoderMember, TabTransformerMember, state_from_bytes

            if (directory / "tab_transformer.pt").exists():
                tab_transformer = TabTransformerMember.from_payload(state_from_bytes((directory / "tab_transformer.pt").read_bytes()))
            if (directory / "autoencoder.pt").exists():
                autoencoder = AutoencoderMember.from_payload(state_from_bytes((directory / "autoencoder.pt").read_bytes()))
        metadata_path = directory / METADATA_FILE
        metadata = json.loads(metadata_path.read_text()) if metadata_path.exists() else {}
        return cls(
            feature_names=tuple(spec["feature_names"]), target_names=tuple(spec["target_names"]),
            feature_order_hash=spec["feature_order_hash"], forest=forest, boosting=boosting,
            tab_transformer=tab_transformer, autoencoder=autoencoder, weights=spec["weights"],
            calibration={t: NormalisedConformal.from_dict(c) for t, c in spec["calibration"].items()},
            forest_calibration={t: NormalisedConformal.from_dict(c) for t, c in spec["forest_calibration"].items()},
            novelty_reference=spec.get("novelty_reference", {}), correction=correction, metadata=metadata,
            _model_hash=artefact_hash(directory))

    @property
    def model_hash(self) -> str:
        """sha256 over the serialised artefacts (everything but metadata.json), in sorted file order."""
        if self._model_hash is None:
            import tempfile

            with tempfile.TemporaryDirectory(prefix="rexai-model-") as tmp:
                self.save(tmp)
        return self._model_hash  # type: ignore[return-value]


def artefact_hash(directory: Path) -> str:
    lines = [f"{p.name}\0{sha256_file(p)}" for p in sorted(Path(directory).iterdir())
             if p.is_file() and p.name != METADATA_FILE and not p.name.startswith(".")]
    return sha256_bytes("\n".join(lines).encode())


def combine(preds: Mapping[str, np.ndarray], weights: Mapping[str, float], j: int, target: str) -> np.ndarray:
    """Weighted member predictions for target column `j`, clipped to the target's physical range."""
    value = sum(w * preds[m][:, j] for m, w in sorted(weights.items()) if w > 0)
    low, high = _bounds(target)
    return np.clip(np.asarray(value, dtype=float), low, high)


# --------------------------------------------------------------------- member selection
def _mae(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.abs(pred - y)))


def select_inverse_mae(y: np.ndarray, preds: Mapping[str, np.ndarray], target: str) -> dict[str, float]:
    """Greedy forward selection by MAE; weights proportional to 1 / member MAE among the chosen."""
    maes = {m: _mae(y, np.clip(p, *_bounds(target))) for m, p in preds.items()}
    order = sorted(maes, key=lambda m: (maes[m], m))
    chosen = [order[0]]
    best = maes[order[0]]

    def weights_for(members: list[str]) -> dict[str, float]:
        inverse = {m: 1.0 / max(maes[m], 1e-12) for m in members}
        total = sum(inverse.values())
        return {m: v / total for m, v in inverse.items()}

    for candidate in order[1:]:
        trial = weights_for(chosen + [candidate])
        score = _mae(y, combine({m: p[:, None] for m, p in preds.items()}, trial, 0, target))
        if score < best * (1 - MIN_RELATIVE_GAIN):
            chosen.append(candidate)
            best = score
    return weights_for(chosen)


def select_nnls(y: np.ndarray, preds: Mapping[str, np.ndarray], target: str) -> dict[str, float]:
    """Non-negative least squares stacking, weights rescaled to sum to 1."""
    from scipy.optimize import nnls

    names = sorted(preds)
    coef, _ = nnls(np.column_stack([preds[m] for m in names]), y)
    if coef.sum() <= 0:
        # Every member anti-correlated with y (degenerate tiny data): fall back to the MAE ranking.
        return select_inverse_mae(y, preds, target)
    coef = coef / coef.sum()
    return {m: float(c) for m, c in zip(names, coef) if c > 1e-6}


SELECTORS = {"inverse_mae": select_inverse_mae, "nnls": select_nnls}


def calibration_halves(n: int, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask over validation rows: True = calibration half, False = selection half."""
    order = np.random.default_rng(seed).permutation(n)
    is_calibration = np.zeros(n, dtype=bool)
    is_calibration[order[: int(round(fraction * n))]] = True
    return is_calibration


# --------------------------------------------------------------------- training
def measured_train_rows(gold: Any) -> pd.DataFrame:
    train = gold.split_frame("train")
    return train[train["label_source"].astype(str) != SIMULATED]


def correction_active(gold: Any, cfg: ModelsConfig) -> bool:
    """Enough measured train rows for the prior + correction scheme (see models/correction.py)."""
    return cfg.correction.enabled and len(measured_train_rows(gold)) >= cfg.correction.min_rows


def training_inputs(gold: Any, cfg: ModelsConfig | None = None) -> dict[str, np.ndarray]:
    """Train-split arrays (the prior's rows: simulated only while a measured correction is fitted)
    and gold's train-only normalisation statistics in feature order."""
    names = list(gold.feature_names)
    train = gold.split_frame("train")
    if cfg is not None and correction_active(gold, cfg):
        train = train[train["label_source"].astype(str) == SIMULATED]
    return {"X": train[names].to_numpy(np.float64), "Y": train[list(gold.target_names)].to_numpy(np.float64),
            "W": train["weight"].to_numpy(np.float64),
            "x_mean": np.asarray(pd.Series(gold.norm_mean).reindex(names), dtype=float),
            "x_std": np.asarray(pd.Series(gold.norm_std).reindex(names), dtype=float)}


def train_forest(gold: Any, cfg: ModelsConfig) -> ForestMember:
    data = training_inputs(gold, cfg)
    return fit_forest(data["X"], data["Y"], data["W"], tuple(gold.target_names), cfg.forest, cfg.seed,
                      cfg.threads_for("forest"))


def train_boosting(gold: Any, cfg: ModelsConfig) -> BoostingMember:
    data = training_inputs(gold, cfg)
    return fit_boosting(data["X"], data["Y"], data["W"], tuple(gold.target_names), cfg.boosting, cfg.seed,
                        cfg.threads_for("boosting"))


def train_tab_transformer(gold: Any, cfg: ModelsConfig) -> Any | None:
    """The TabTransformer member, or None when disabled in config."""
    if not cfg.tab_transformer.enabled or "tab_transformer" not in cfg.ensemble.candidates:
        return None
    from rexai_assets.models.torch_models import fit_tab_transformer

    data = training_inputs(gold, cfg)
    return fit_tab_transformer(data["X"], data["Y"], data["W"], tuple(gold.target_names), cfg.tab_transformer,
                               cfg.seed, cfg.threads_for("tab_transformer"), x_mean=data["x_mean"], x_std=data["x_std"])


def train_autoencoder(gold: Any, cfg: ModelsConfig) -> Any:
    from rexai_assets.models.torch_models import fit_autoencoder

    data = training_inputs(gold)
    return fit_autoencoder(data["X"], cfg.autoencoder, cfg.seed, cfg.threads_for("autoencoder"),
                           x_mean=data["x_mean"], x_std=data["x_std"])


def _default_heuristic() -> Heuristic:
    from rexai_assets.gold.heuristic import heuristic_props

    return heuristic_props


def trained_on_label(gold: Any) -> str:
    sources = set(gold.split_frame("train")["label_source"].astype(str))
    return "synthetic_v0" if sources <= {SIMULATED} else "hybrid_v1"


def assemble_ensemble(gold: Any, forest: ForestMember, boosting: BoostingMember | None, tab_transformer: Any | None,
                      autoencoder: Any | None, cfg: ModelsConfig | None = None,
                      heuristic: Heuristic | None = None) -> TrainedEnsemble:
    """Choose members and weights, calibrate the intervals, and evaluate on val / test / golden."""
    started = time.perf_counter()
    cfg = cfg or models_config()
    targets = tuple(gold.target_names)
    Xv, Yv = gold.X("val"), gold.Y("val")
    if len(Xv) == 0:
        raise ValueError("gold_dataset has no validation rows: the ensemble cannot be chosen or calibrated")
    candidates = {"forest": forest, "boosting": boosting, "tab_transformer": tab_transformer}
    candidates = {m: candidates[m] for m in cfg.ensemble.candidates if candidates.get(m) is not None}
    candidates.setdefault("forest", forest)
    val_mean, val_spread = forest.predict_with_spread(Xv)
    val_preds = {m: (val_mean if m == "forest" else member.predict(Xv)) for m, member in candidates.items()}
    is_calibration = calibration_halves(len(Xv), cfg.calibration_fraction, cfg.seed)
    val_measured = (gold.split_frame("val")["label_source"].astype(str) != SIMULATED).to_numpy()
    select = SELECTORS[cfg.ensemble.method]

    weights, calibration, forest_calibration, selection, calibration_rows = {}, {}, {}, {}, {}
    for j, target in enumerate(targets):
        labelled = ~np.isnan(Yv[:, j])
        if not labelled.any():
            raise ValueError(f"gold_dataset: target {target!r} has no labelled validation rows")
        sel, cal = labelled & ~is_calibration, labelled & is_calibration
        shared = sel.sum() < MIN_ROWS_PER_HALF or cal.sum() < MIN_ROWS_PER_HALF
        if shared:
            sel = cal = labelled
        calibrated_on = "all"
        if (labelled & val_measured).sum() >= MIN_MEASURED_CALIBRATION:
            calibrated_on = "measured"
            cal = labelled & val_measured & is_calibration
            if cal.sum() < MIN_ROWS_PER_HALF or (labelled & val_measured & ~is_calibration).sum() < MIN_ROWS_PER_HALF:
                cal = labelled & val_measured
        column = {m: p[:, j] for m, p in val_preds.items()}
        without_tt = select(Yv[sel, j], {m: p[sel] for m, p in column.items() if m != "tab_transformer"}, target)
        chosen = without_tt
        record: dict[str, Any] = {
            "n_selection": int(sel.sum()), "n_calibration": int(cal.sum()), "shared_rows": bool(shared),
            "calibrated_on": calibrated_on,
            "member_mae": {m: _mae(Yv[sel, j], np.clip(p[sel], *_bounds(target))) for m, p in column.items()},
            "mae_without_tab_transformer": _mae(Yv[sel, j], combine({m: p[:, None] for m, p in column.items()}, without_tt, 0, target)[sel]),
        }
        if "tab_transformer" in column:
            with_tt = select(Yv[sel, j], {m: p[sel] for m, p in column.items()}, target)
            mae_with = _mae(Yv[sel, j], combine({m: p[:, None] for m, p in column.items()}, with_tt, 0, target)[sel])
            record["mae_with_tab_transformer"] = mae_with
            # The TabTransformer is served only where it lowers the selection-half error.
            if with_tt.get("tab_transformer", 0) > 0 and mae_with < record["mae_without_tab_transformer"]:
                chosen = with_tt
        record["tab_transformer_used"] = chosen.get("tab_transformer", 0) > 0
        record["weights"] = chosen
        weights[target] = chosen
        calibration_rows[target] = cal
        selection[target] = record

    correction = None
    if correction_active(gold, cfg):
        # The members never saw the measured rows, so their residuals there are honest.
        measured = measured_train_rows(gold)
        Xm = measured[list(gold.feature_names)].to_numpy(np.float64)
        member_preds = prior_predictions(candidates, forest, Xm)
        prior = np.column_stack([combine(member_preds, weights[t], j, t) for j, t in enumerate(targets)])
        correction = fit_correction(Xm, measured[list(targets)].to_numpy(np.float64),
                                    measured["weight"].to_numpy(np.float64), prior, targets, cfg.correction, cfg.seed)

    for j, target in enumerate(targets):
        record = selection[target]
        cal = calibration_rows[target]
        ensemble_val = combine(val_preds, weights[target], j, target)
        if correction is not None:
            ensemble_val = np.clip(ensemble_val + correction.delta(Xv, ensemble_val, target), *_bounds(target))
            record["measured_correction_rows"] = correction.rows.get(target, 0)
            record["measured_correction"] = target in correction.models
        calibration[target] = calibrate(Yv[cal, j], ensemble_val[cal], val_spread[cal, j], cfg.coverage_target)
        forest_calibration[target] = calibrate(Yv[cal, j], np.clip(val_mean[cal, j], *_bounds(target)),
                                               val_spread[cal, j], cfg.coverage_target)

    novelty_reference = {}
    if autoencoder is not None:
        scores = autoencoder.novelty(Xv)
        novelty_reference = {"val_p50": float(np.quantile(scores, 0.5)), "val_p95": float(np.quantile(scores, 0.95)),
                             "val_p99": float(np.quantile(scores, 0.99))}
    ensemble = TrainedEnsemble(
        feature_names=tuple(gold.feature_names), target_names=targets, feature_order_hash=gold.feature_order_hash,
        # Members without weight for any target are not served, so they are not saved either.
        forest=forest, boosting=boosting if _weighted(weights, "boosting") else None,
        tab_transformer=tab_transformer if _weighted(weights, "tab_transformer") else None,
        autoencoder=autoencoder, weights=weights, calibration=calibration, forest_calibration=forest_calibration,
        novelty_reference=novelty_reference, correction=correction)
    evaluation = evaluate(ensemble, gold, candidates, heuristic or _default_heuristic())
    train_seconds = {m.name: float(m.train_seconds) for m in (forest, boosting, tab_transformer, autoencoder) if m is not None}
    train_seconds["ensemble"] = time.perf_counter() - started
    ensemble.metadata = {
        "features": list(ensemble.feature_names), "targets": list(targets),
        "feature_order_hash": gold.feature_order_hash, "dataset_hash": gold.dataset_hash,
        "gold_config_hash": gold.config_hash, "models_config_hash": models_config_hash(),
        "config_hash": _combined_hash(gold.config_hash, models_config_hash()),
        "trained_on": trained_on_label(gold), "intervals_method": INTERVALS_METHOD,
        "coverage_target": cfg.coverage_target, "seed": cfg.seed, "profile": cfg.profile,
        "ensemble_method": cfg.ensemble.method, "selection": selection,
        "tab_transformer_used": {t: r["tab_transformer_used"] for t, r in selection.items()},
        "rows": {s: int(len(gold.split_frame(s))) for s in ("train", "val", "test", "golden")},
        "train_seconds": train_seconds, "training_seconds_total": float(sum(train_seconds.values())),
        "novelty_reference": novelty_reference, **evaluation,
    }
    return ensemble


def prior_predictions(candidates: Mapping[str, Any], forest: ForestMember, X: np.ndarray) -> dict[str, np.ndarray]:
    return {m: (forest.predict_with_spread(X)[0] if m == "forest" else member.predict(X)) for m, member in candidates.items()}


def _weighted(weights: Mapping[str, Mapping[str, float]], member: str) -> bool:
    return any(w.get(member, 0) > 0 for w in weights.values())


def _combined_hash(*parts: str) -> str:
    return sha256_bytes("\n".join(parts).encode())


def evaluate(ensemble: TrainedEnsemble, gold: Any, candidates: Mapping[str, Any], heuristic: Heuristic) -> dict:
    """Per-target metrics per model and split (never averaged across units), golden vs heuristic."""
    targets = ensemble.target_names
    Ytrain = gold.Y("train")
    target_scale = {t: float(np.nanstd(Ytrain[:, j])) for j, t in enumerate(targets)}
    metrics: dict[str, dict[str, dict]] = {}
    aggregate: dict[str, dict[str, float]] = {}
    coverage: dict[str, dict[str, float]] = {}
    slices = {"val": gold.split_frame("val"), "test": gold.split_frame("test"), "golden": gold.split_frame("golden")}
    for split in ("val", "golden"):
        frame = slices[split]
        measured = frame[frame["label_source"].astype(str) != SIMULATED] if len(frame) else frame
        if len(measured):
            slices[f"{split}_measured"] = measured
    for split, frame in slices.items():
        if len(frame) == 0:
            continue
        X = frame[list(ensemble.feature_names)].to_numpy(dtype=np.float64)
        Y = frame[list(targets)].to_numpy(dtype=np.float64)
        results = {"ensemble": ensemble.predict(X), "forest": ensemble.predict_forest(X)}
        for name, member in candidates.items():
            if name != "forest":
                pred = member.predict(X)
                results[name] = {t: {"value": np.clip(pred[:, j], *_bounds(t))} for j, t in enumerate(targets)}
        features = pd.DataFrame(X, columns=list(ensemble.feature_names), index=frame.index)
        props = heuristic(features)
        results["heuristic"] = {t: {"value": props[t].to_numpy(dtype=float)} for t in targets}
        for name, pred in results.items():
            per_target = per_target_metrics(Y, pred, targets)
            metrics.setdefault(name, {})[split] = per_target
            aggregate.setdefault(name, {})[split] = normalised_mae(per_target, target_scale)
        coverage[split] = {t: metrics["ensemble"][split][t]["coverage"] for t in targets}
    versus = {}
    if "golden" in metrics.get("ensemble", {}):
        for t in targets:
            # Measured golden rows judge the model once there are enough of them (as in the gate).
            measured = metrics["ensemble"].get("golden_measured", {}).get(t, {})
            split = "golden_measured" if measured.get("n", 0) >= MIN_MEASURED_CALIBRATION else "golden"
            model_mae = metrics["ensemble"][split][t]["mae"]
            heuristic_mae = metrics["heuristic"][split][t]["mae"]
            versus[t] = {"model_mae": model_mae, "heuristic_mae": heuristic_mae, "slice": split,
                         "n": metrics["ensemble"][split][t]["n"],
                         "beats": bool(model_mae < heuristic_mae) if not math.isnan(model_mae) else False}
    return {"metrics": metrics, "aggregate_normalised_mae": aggregate, "coverage": coverage,
            "target_scale": target_scale, "golden_vs_heuristic": versus}


def train_ensemble(gold: Any, cfg: ModelsConfig | None = None, heuristic: Heuristic | None = None) -> TrainedEnsemble:
    """Every member, then the ensemble: what the assets do, in one call (tests, benchmark)."""
    cfg = cfg or models_config()
    forest = train_forest(gold, cfg)
    boosting = train_boosting(gold, cfg) if "boosting" in cfg.ensemble.candidates else None
    tab_transformer = train_tab_transformer(gold, cfg)
    autoencoder = train_autoencoder(gold, cfg)
    return assemble_ensemble(gold, forest, boosting, tab_transformer, autoencoder, cfg, heuristic)
