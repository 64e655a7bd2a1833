"""The served model: a simulator prior (weighted ensemble), a measured correction, and honest intervals.

Training in named steps (`assemble_ensemble`):

1. `choose_members`: the members learn the bootstrap simulator from simulated rows only; simulated
   validation rows are split once (seeded) into a *selection* half, which chooses members and weights,
   and a *calibration* half for the simulated intervals, so neither choice is scored on its own rows.
2. `fit_correction`: measurements correct the prior (models/correction.py), cross-fitted by recipe.
3. `calibrate_intervals`: per target, cross-conformal on every trusted measured row once there are
   enough, else simulated calibration plus a simulator-to-reality allowance (models/conformal.py).
4. `evaluate`: metrics per model and split, on the slices the gate decides on.

The interval scale of the simulated regime is the spread of the forest's trees, so the forest is
always part of the artefact even where it has no weight. Persistence lives in models/artefacts.py.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from rexai_assets.hashing import sha256_bytes
from rexai_assets.models.artefacts import artefact_hash, load_ensemble, save_ensemble
from rexai_assets.models.boosting import BoostingMember, fit_boosting
from rexai_assets.models.conformal import (MEASURED, SIMULATED as CALIBRATED_ON_SIMULATION, NormalisedConformal,
                                           TargetInterval, TargetScale, allowance_on_scale, calibrate,
                                           measured_allowance, sharpest_scale)
from rexai_assets.models.config import ModelsConfig, models_config, models_config_hash
from rexai_assets.models.correction import CrossFit, MeasuredCorrection, cross_fit_correction
from rexai_assets.models.forest import ForestMember, fit_forest
from rexai_assets.models.metrics import normalised_mae, per_target_metrics

__all__ = ["TrainedEnsemble", "artefact_hash", "assemble_ensemble", "train_ensemble", "FeatureContractMismatch"]

SIMULATED = "simulated"
INTERVALS_METHOD = ("cross-conformal on out-of-fold residuals of every trusted measured row (absolute for "
                    "rigidity/tightness, log-relative for costs) once a target has enough of them; before that, "
                    "split-conformal on simulated validation rows (normalised by the forest's tree spread) widened "
                    "by a simulator-to-reality allowance (config, re-estimated from any measurements)")
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
    intervals: dict[str, TargetInterval]
    novelty_reference: dict[str, float] = field(default_factory=dict)
    correction: MeasuredCorrection | None = None
    metadata: dict = field(default_factory=dict, compare=False)
    _model_hash: str | None = field(default=None, compare=False, repr=False)

    # ----------------------------------------------------------------- prediction
    @property
    def members(self) -> dict[str, Any]:
        found = {"forest": self.forest, "boosting": self.boosting, "tab_transformer": self.tab_transformer}
        return {k: v for k, v in found.items() if v is not None}

    @property
    def calibrated_on(self) -> dict[str, str]:
        """Per target: `measured` (cross-conformal on measurements) or `simulated` (simulation + allowance)."""
        return {t: self.intervals[t].calibrated_on for t in self.target_names}

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
        values, spread, _ = self.served_and_members(X)
        return values, spread

    def served_and_members(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Served values, the forest's tree std and the weighted members' own predictions, from one pass
        (planning measures the members' disagreement without predicting twice)."""
        X = self._check_width(X)
        preds, spread = self.member_predictions(X)
        prior = np.column_stack([combine(preds, self.weights[t], j, t) for j, t in enumerate(self.target_names)]) \
            if len(X) else np.zeros((0, len(self.target_names)))
        return self.corrected(X, prior), spread, preds

    def corrected(self, X: np.ndarray, prior: np.ndarray) -> np.ndarray:
        """Prior values [n, n_targets] plus the measured correction (learned on each target's scale)."""
        if self.correction is None:
            return prior
        values = prior.copy()
        for j, target in enumerate(self.target_names):
            values[:, j] = np.clip(self.correction.apply(X, prior[:, j], target), *_bounds(target))
        return values

    def correction_spread(self, X: np.ndarray, prior: np.ndarray) -> np.ndarray:
        """[n, n_targets] spread of the measured correction's fold models on each target's correction scale
        (zeros for a target without one) for rows X whose prior values are `prior` (planning's uncertainty)."""
        out = np.zeros((len(X), len(self.target_names)))
        if self.correction is not None:
            for j, target in enumerate(self.target_names):
                out[:, j] = self.correction.spread(X, prior[:, j], target)
        return out

    def predict(self, X: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """{target: {"value", "lo", "hi"}} with 95 % (config `coverage_target`) conformal intervals."""
        return self.predict_with_members(X)[0]

    def predict_with_members(self, X: np.ndarray) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
        """`predict` and the weighted members' predictions [n, n_targets] of the same pass."""
        values, spread, members = self.served_and_members(X)
        return self.with_intervals(values, spread), members

    def with_intervals(self, values: np.ndarray, spread: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        out = {}
        for j, target in enumerate(self.target_names):
            lo, hi = self.intervals[target].interval(values[:, j], spread[:, j], *_bounds(target))
            out[target] = {"value": values[:, j], "lo": lo, "hi": hi}
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
    def save(self, directory: str | Path) -> str:
        """Write the artefacts into `directory` (created) and return the model hash."""
        self._model_hash = save_ensemble(self, directory)
        return self._model_hash

    @classmethod
    def load(cls, directory: str | Path) -> "TrainedEnsemble":
        """Rebuild a saved ensemble; never trains."""
        return load_ensemble(directory)

    @property
    def model_hash(self) -> str:
        """sha256 over the serialised artefacts (everything but metadata.json), in sorted file order."""
        if self._model_hash is None:
            import tempfile

            with tempfile.TemporaryDirectory(prefix="rexai-model-") as tmp:
                self.save(tmp)
        return self._model_hash  # type: ignore[return-value]


def combine(preds: Mapping[str, np.ndarray], weights: Mapping[str, float], j: int, target: str) -> np.ndarray:
    """Weighted member predictions for target column `j`, clipped to the target's physical range."""
    value = sum(w * preds[m][:, j] for m, w in sorted(weights.items()) if w > 0)
    low, high = _bounds(target)
    return np.clip(np.asarray(value, dtype=float), low, high)


def prior_matrix(preds: Mapping[str, np.ndarray], weights: Mapping[str, Mapping[str, float]],
                 targets: Sequence[str]) -> np.ndarray:
    """The combined prior [n, n_targets] from member predictions and per-target weights."""
    return np.column_stack([combine(preds, weights[t], j, t) for j, t in enumerate(targets)])


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
def simulated_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["label_source"].astype(str) == SIMULATED]


def measured_rows(gold: Any) -> pd.DataFrame:
    """Measured rows outside the golden set (train and val): what corrects and calibrates the prior."""
    frame = gold.frame[gold.frame["split"].isin(["train", "val"])]
    return frame[frame["label_source"].astype(str) != SIMULATED]


def training_inputs(gold: Any) -> dict[str, np.ndarray]:
    """The prior's train rows (simulated only: measurements enter through the correction, so every
    measured row stays an honest check of the prior) and gold's train-only normalisation statistics."""
    names = list(gold.feature_names)
    train = simulated_rows(gold.split_frame("train"))
    return {"X": train[names].to_numpy(np.float64), "Y": train[list(gold.target_names)].to_numpy(np.float64),
            "W": train["weight"].to_numpy(np.float64),
            "x_mean": np.asarray(pd.Series(gold.norm_mean).reindex(names), dtype=float),
            "x_std": np.asarray(pd.Series(gold.norm_std).reindex(names), dtype=float)}


def _fit_member(member: str, data: dict[str, np.ndarray], settings: Any, cfg: ModelsConfig, modules: Sequence[str],
                cache_dir: Path | None, fit: Callable[[], Any]) -> tuple[Any, bool]:
    """`fit()`, or the stored fit of the same training rows, settings, seed, threads and code (models/fit_cache.py)."""
    from rexai_assets.models.fit_cache import cached_fit, fit_key

    key = fit_key(member, {"settings": settings.model_dump(mode="json"), "seed": cfg.seed,
                           "threads": cfg.threads_for(member)}, [data["X"], data["Y"], data["W"]], modules)
    return cached_fit(cache_dir, member, key, fit)


def train_forest(gold: Any, cfg: ModelsConfig, cache_dir: Path | None = None) -> tuple[ForestMember, bool]:
    """The forest member and whether it was a stored fit (see _fit_member)."""
    data = training_inputs(gold)
    return _fit_member("forest", data, cfg.forest, cfg, ["rexai_assets.models.forest"], cache_dir, lambda: fit_forest(
        data["X"], data["Y"], data["W"], tuple(gold.target_names), cfg.forest, cfg.seed, cfg.threads_for("forest")))


def train_boosting(gold: Any, cfg: ModelsConfig, cache_dir: Path | None = None) -> tuple[BoostingMember, bool]:
    """The boosting member and whether it was a stored fit (see _fit_member)."""
    data = training_inputs(gold)
    return _fit_member("boosting", data, cfg.boosting, cfg, ["rexai_assets.models.boosting", "rexai_assets.models.forest"],
                       cache_dir, lambda: fit_boosting(data["X"], data["Y"], data["W"], tuple(gold.target_names),
                                                       cfg.boosting, cfg.seed, cfg.threads_for("boosting")))


def train_tab_transformer(gold: Any, cfg: ModelsConfig, cache_dir: Path | None = None) -> tuple[Any | None, bool]:
    """The TabTransformer member (None when disabled in config) and whether it was a stored fit.

    Like the other prior members it sees simulated train rows only, standardised by their own statistics,
    so measurements landing leave its inputs, and its fit, unchanged."""
    if not cfg.tab_transformer.enabled or "tab_transformer" not in cfg.ensemble.candidates:
        return None, False
    from rexai_assets.models.torch_models import fit_tab_transformer

    data = training_inputs(gold)
    return _fit_member("tab_transformer", data, cfg.tab_transformer, cfg, ["rexai_assets.models.torch_models"],
                       cache_dir, lambda: fit_tab_transformer(data["X"], data["Y"], data["W"], tuple(gold.target_names),
                                                              cfg.tab_transformer, cfg.seed,
                                                              cfg.threads_for("tab_transformer")))


def train_autoencoder(gold: Any, cfg: ModelsConfig) -> Any:
    from rexai_assets.models.torch_models import fit_autoencoder

    names = list(gold.feature_names)
    data = training_inputs(gold)
    # Novelty is about every recipe seen, measured ones included.
    X = gold.split_frame("train")[names].to_numpy(np.float64)
    return fit_autoencoder(X, cfg.autoencoder, cfg.seed, cfg.threads_for("autoencoder"),
                           x_mean=data["x_mean"], x_std=data["x_std"])


def _default_heuristic() -> Heuristic:
    from rexai_assets.gold.heuristic import heuristic_props

    return heuristic_props


def trained_on_label(gold: Any) -> str:
    sources = set(gold.split_frame("train")["label_source"].astype(str))
    return "synthetic_v0" if sources <= {SIMULATED} else "hybrid_v1"


@dataclass
class MemberChoice:
    """Step 1's result: weights per target, the simulated calibration per target, and the record."""

    candidates: dict[str, Any]
    weights: dict[str, dict[str, float]]
    simulated: dict[str, NormalisedConformal]
    selection: dict[str, dict]


def _choose_target(y: np.ndarray, column: dict[str, np.ndarray], sel: np.ndarray, select: Callable,
                   target: str) -> dict[str, Any]:
    """Weights for one target on the selection rows; the TabTransformer only where it lowers the error."""
    def mae_of(weights: dict[str, float]) -> float:
        return _mae(y[sel], combine({m: p[:, None] for m, p in column.items()}, weights, 0, target)[sel])

    without_tt = select(y[sel], {m: p[sel] for m, p in column.items() if m != "tab_transformer"}, target)
    record: dict[str, Any] = {
        "member_mae": {m: _mae(y[sel], np.clip(p[sel], *_bounds(target))) for m, p in column.items()},
        "mae_without_tab_transformer": mae_of(without_tt)}
    chosen = without_tt
    if "tab_transformer" in column:
        with_tt = select(y[sel], {m: p[sel] for m, p in column.items()}, target)
        record["mae_with_tab_transformer"] = mae_of(with_tt)
        if with_tt.get("tab_transformer", 0) > 0 and record["mae_with_tab_transformer"] < record["mae_without_tab_transformer"]:
            chosen = with_tt
    record["tab_transformer_used"] = chosen.get("tab_transformer", 0) > 0
    record["weights"] = chosen
    return record


def choose_members(gold: Any, forest: ForestMember, boosting: Any, tab_transformer: Any, cfg: ModelsConfig) -> MemberChoice:
    """Members and weights per target on one half of the simulated validation rows; simulated
    intervals calibrated on the other half."""
    targets = tuple(gold.target_names)
    val = simulated_rows(gold.split_frame("val"))
    if len(val) == 0:
        raise ValueError("gold_dataset has no simulated validation rows: the ensemble cannot be chosen or calibrated")
    Xv, Yv = val[list(gold.feature_names)].to_numpy(np.float64), val[list(targets)].to_numpy(np.float64)
    found = {"forest": forest, "boosting": boosting, "tab_transformer": tab_transformer}
    candidates = {m: found[m] for m in cfg.ensemble.candidates if found.get(m) is not None}
    candidates.setdefault("forest", forest)
    val_mean, val_spread = forest.predict_with_spread(Xv)
    val_preds = {m: (val_mean if m == "forest" else member.predict(Xv)) for m, member in candidates.items()}
    is_calibration = calibration_halves(len(Xv), cfg.calibration_fraction, cfg.seed)
    weights, simulated, selection = {}, {}, {}
    for j, target in enumerate(targets):
        labelled = ~np.isnan(Yv[:, j])
        if not labelled.any():
            raise ValueError(f"gold_dataset: target {target!r} has no labelled validation rows")
        sel, cal = labelled & ~is_calibration, labelled & is_calibration
        shared = sel.sum() < MIN_ROWS_PER_HALF or cal.sum() < MIN_ROWS_PER_HALF
        if shared:
            sel = cal = labelled
        record = _choose_target(Yv[:, j], {m: p[:, j] for m, p in val_preds.items()}, sel,
                                SELECTORS[cfg.ensemble.method], target)
        record.update(n_selection=int(sel.sum()), n_calibration=int(cal.sum()), shared_rows=bool(shared))
        weights[target] = record["weights"]
        served = combine(val_preds, weights[target], j, target)
        simulated[target] = calibrate(Yv[cal, j], served[cal], val_spread[cal, j], cfg.coverage_target)
        selection[target] = record
    return MemberChoice(candidates, weights, simulated, selection)


# Offsets of the log scales of the costs, as shares of the target's simulated median: the simulated
# intervals and their relative allowance use the first; the correction learns on the second (errors
# relative above the median, absolute below it); measured intervals choose among all of them.
SIMULATED_OFFSET_SHARE, CORRECTION_OFFSET_SHARE = 0.05, 1.0
MEASURED_OFFSET_SHARES = (0.1, 1.0, 10.0)


def target_scale(target: str, simulated: np.ndarray, share: float) -> TargetScale:
    """Log scale (offset: `share` of the median of the simulated values) for a cost, identity for a 0-1 target."""
    if not math.isinf(_bounds(target)[1]):
        return TargetScale()
    median = float(np.nanmedian(simulated)) if len(simulated) else 1.0
    return TargetScale(offset=max(share * median, 1e-3))


def target_scales(gold: Any, share: float = SIMULATED_OFFSET_SHARE) -> dict[str, TargetScale]:
    """Each target's `target_scale` from the simulated training rows."""
    train = simulated_rows(gold.split_frame("train"))
    return {target: target_scale(target, train[target].to_numpy(float), share) for target in gold.target_names}


def measured_scale_candidates(gold: Any, target: str) -> list[TargetScale]:
    """The scales a target's measured intervals may be calibrated on: plain, and log for the costs."""
    if not math.isinf(_bounds(target)[1]):
        return [TargetScale()]
    return [TargetScale()] + [target_scales(gold, share)[target] for share in MEASURED_OFFSET_SHARES]


@dataclass
class MeasuredFit:
    """Step 2's result, on the measured rows outside the golden set."""

    rows: pd.DataFrame
    prior: np.ndarray     # [n, targets] the prior's values (honest: the members never saw these rows)
    spread: np.ndarray    # [n, targets] the forest's tree spread on these rows
    cross_fit: CrossFit   # out-of-fold values are on each target's correction scale
    trusted: np.ndarray
    oof_values: np.ndarray  # [n, targets] out-of-fold served values in the targets' units


def fit_correction(gold: Any, choice: MemberChoice, forest: ForestMember, cfg: ModelsConfig) -> MeasuredFit:
    """Cross-fit the measured correction of the prior (models/correction.py) on every measured row."""
    targets = tuple(gold.target_names)
    scales = target_scales(gold, CORRECTION_OFFSET_SHARE)
    rows = measured_rows(gold)
    X = rows[list(gold.feature_names)].to_numpy(np.float64)
    prior = spread = np.zeros((0, len(targets)))
    if len(rows):
        mean, spread = forest.predict_with_spread(X)
        preds = {m: (mean if m == "forest" else member.predict(X)) for m, member in choice.candidates.items()}
        prior = prior_matrix(preds, choice.weights, targets)
    on_scale = lambda M: np.column_stack([scales[t].forward(M[:, j]) for j, t in enumerate(targets)]) \
        if len(M) else M  # noqa: E731
    trusted = rows["label_source"].astype(str).isin(list(gold.trusted_sources)).to_numpy()
    fit = cross_fit_correction(X, on_scale(rows[list(targets)].to_numpy(np.float64)), rows["weight"].to_numpy(np.float64),
                               on_scale(prior), trusted, rows["recipe_id"].to_numpy(), targets, cfg.correction, cfg.seed)
    fit.correction.offsets = {t: scales[t].offset for t in targets}
    oof = np.column_stack([np.clip(scales[t].inverse(fit.oof[:, j]), *_bounds(t)) for j, t in enumerate(targets)]) \
        if len(rows) else prior
    return MeasuredFit(rows, prior, spread, fit, trusted, oof)


def calibrate_intervals(gold: Any, choice: MemberChoice, measured: MeasuredFit, targets: Sequence[str],
                        cfg: ModelsConfig) -> dict[str, TargetInterval]:
    """Per target: cross-conformal on trusted measured rows once there are enough, else simulated + allowance."""
    intervals, scales = {}, target_scales(gold)
    for j, target in enumerate(targets):
        scale, sim = scales[target], choice.simulated[target]
        low, high = _bounds(target)
        y = measured.rows[target].to_numpy(float) if len(measured.rows) else np.zeros(0)
        use = ~np.isnan(y) & measured.trusted
        oof = measured.oof_values[use, j]
        if use.sum() >= cfg.intervals.min_measured_rows:
            chosen, q, valid = sharpest_scale(y[use], oof, measured_scale_candidates(gold, target),
                                              cfg.coverage_target, low, high)
            intervals[target] = TargetInterval(MEASURED, cfg.coverage_target, chosen, sim, q_measured=q,
                                               n_measured=int(use.sum()), valid=valid)
            continue
        lo, hi = sim.interval(oof, measured.spread[use, j] if use.any() else np.zeros(0))
        configured = allowance_on_scale(cfg.intervals.allowance[target], scale)
        allowance, source = measured_allowance(y[use], np.clip(lo, low, high), np.clip(hi, low, high), scale,
                                               cfg.coverage_target, configured)
        intervals[target] = TargetInterval(CALIBRATED_ON_SIMULATION, cfg.coverage_target, scale, sim,
                                           allowance=allowance, allowance_source=source, n_measured=int(use.sum()),
                                           valid=sim.valid)
    return intervals


def novelty_reference(autoencoder: Any, X: np.ndarray) -> dict[str, float]:
    if autoencoder is None or len(X) == 0:
        return {}
    scores = autoencoder.novelty(X)
    return {f"val_p{int(q * 100)}": float(np.quantile(scores, q)) for q in (0.5, 0.95, 0.99)}


def assemble_ensemble(gold: Any, forest: ForestMember, boosting: BoostingMember | None, tab_transformer: Any | None,
                      autoencoder: Any | None, cfg: ModelsConfig | None = None,
                      heuristic: Heuristic | None = None) -> TrainedEnsemble:
    """Choose members, fit the measured correction, calibrate the intervals, evaluate (module docstring)."""
    started = time.perf_counter()
    cfg = cfg or models_config()
    targets = tuple(gold.target_names)
    choice = choose_members(gold, forest, boosting, tab_transformer, cfg)
    measured = fit_correction(gold, choice, forest, cfg)
    # Kept for its committee too (planning's uncertainty) even where no target's correction is served.
    fitted = measured.cross_fit.correction
    correction = fitted if fitted.models or fitted.committee else None
    ensemble = TrainedEnsemble(
        feature_names=tuple(gold.feature_names), target_names=targets, feature_order_hash=gold.feature_order_hash,
        # Members without weight for any target are not served, so they are not saved either.
        forest=forest, boosting=boosting if _weighted(choice.weights, "boosting") else None,
        tab_transformer=tab_transformer if _weighted(choice.weights, "tab_transformer") else None,
        autoencoder=autoencoder, weights=choice.weights,
        intervals=calibrate_intervals(gold, choice, measured, targets, cfg),
        novelty_reference=novelty_reference(autoencoder, gold.X("val")), correction=correction)
    evaluation = evaluate(ensemble, gold, choice.candidates, heuristic or _default_heuristic())
    train_seconds = {m.name: float(m.train_seconds) for m in (forest, boosting, tab_transformer, autoencoder) if m is not None}
    train_seconds["ensemble"] = time.perf_counter() - started
    ensemble.metadata = training_metadata(gold, ensemble, choice, measured, cfg, train_seconds, evaluation)
    return ensemble


def training_metadata(gold: Any, ensemble: TrainedEnsemble, choice: MemberChoice, measured: MeasuredFit,
                      cfg: ModelsConfig, train_seconds: dict[str, float], evaluation: dict) -> dict:
    selection = {t: dict(record, **ensemble.intervals[t].describe(),
                         correction=measured.cross_fit.report.get(t, {})) for t, record in choice.selection.items()}
    return {
        "features": list(ensemble.feature_names), "targets": list(ensemble.target_names),
        "feature_order_hash": gold.feature_order_hash, "dataset_hash": gold.dataset_hash,
        "gold_config_hash": gold.config_hash, "models_config_hash": models_config_hash(),
        "config_hash": _combined_hash(gold.config_hash, models_config_hash()),
        "trained_on": trained_on_label(gold), "intervals_method": INTERVALS_METHOD,
        "calibrated_on": ensemble.calibrated_on, "measured_rows": int(len(measured.rows)),
        "coverage_target": cfg.coverage_target, "seed": cfg.seed, "profile": cfg.profile,
        "ensemble_method": cfg.ensemble.method, "selection": selection,
        "tab_transformer_used": {t: r["tab_transformer_used"] for t, r in choice.selection.items()},
        "rows": {s: int(len(gold.split_frame(s))) for s in ("train", "val", "test", "golden")},
        "train_seconds": train_seconds, "training_seconds_total": float(sum(train_seconds.values())),
        "novelty_reference": ensemble.novelty_reference, **evaluation,
    }


def _weighted(weights: Mapping[str, Mapping[str, float]], member: str) -> bool:
    return any(w.get(member, 0) > 0 for w in weights.values())


def _combined_hash(*parts: str) -> str:
    return sha256_bytes("\n".join(parts).encode())


def evaluation_slices(gold: Any) -> dict[str, pd.DataFrame]:
    """val, test and golden, and golden's simulated and trusted measured slices (what the gate decides on)."""
    golden = gold.split_frame("golden")
    source = golden["label_source"].astype(str)
    slices = {"val": gold.split_frame("val"), "test": gold.split_frame("test"), "golden": golden,
              "golden_simulated": golden[source == SIMULATED],
              "golden_measured": golden[source.isin(list(gold.trusted_sources))]}
    return {name: frame for name, frame in slices.items() if len(frame)}


def slice_predictions(ensemble: TrainedEnsemble, candidates: Mapping[str, Any], heuristic: Heuristic,
                      X: np.ndarray) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """The served ensemble with intervals, each member's point prediction and the heuristic on rows X."""
    targets = ensemble.target_names
    results = {"ensemble": ensemble.predict(X)}
    for name, member in candidates.items():
        pred = ensemble.forest.predict_with_spread(X)[0] if name == "forest" else member.predict(X)
        results[name] = {t: {"value": np.clip(pred[:, j], *_bounds(t))} for j, t in enumerate(targets)}
    props = heuristic(pd.DataFrame(X, columns=list(ensemble.feature_names)))
    results["heuristic"] = {t: {"value": props[t].to_numpy(dtype=float)} for t in targets}
    return results


def evaluate(ensemble: TrainedEnsemble, gold: Any, candidates: Mapping[str, Any], heuristic: Heuristic) -> dict:
    """Per-target metrics per model and slice (never averaged across units) and golden vs the heuristic
    on the slice that decides (models/rules.py)."""
    from rexai_assets.models.rules import deciding_slice, quality_thresholds

    targets = ensemble.target_names
    Ytrain = simulated_rows(gold.split_frame("train"))[list(targets)].to_numpy(np.float64)
    target_scale = {t: float(np.nanstd(Ytrain[:, j])) if len(Ytrain) else 1.0 for j, t in enumerate(targets)}
    metrics: dict[str, dict[str, dict]] = {}
    aggregate: dict[str, dict[str, float]] = {}
    for split, frame in evaluation_slices(gold).items():
        X, Y = frame[list(ensemble.feature_names)].to_numpy(np.float64), frame[list(targets)].to_numpy(np.float64)
        for name, pred in slice_predictions(ensemble, candidates, heuristic, X).items():
            per_target = per_target_metrics(Y, pred, targets)
            metrics.setdefault(name, {})[split] = per_target
            aggregate.setdefault(name, {})[split] = normalised_mae(per_target, target_scale)
    coverage = {split: {t: v[t]["coverage"] for t in targets} for split, v in metrics.get("ensemble", {}).items()}
    thresholds = quality_thresholds()
    versus = {}
    for t in targets:
        measured_n = metrics.get("ensemble", {}).get("golden_measured", {}).get(t, {}).get("n", 0)
        split = f"golden_{deciding_slice(measured_n, thresholds)}"
        entry = metrics.get("ensemble", {}).get(split, {}).get(t)
        if entry is None or entry["n"] == 0:
            continue
        model_mae, heuristic_mae = entry["mae"], metrics["heuristic"][split][t]["mae"]
        versus[t] = {"model_mae": model_mae, "heuristic_mae": heuristic_mae, "slice": split, "n": entry["n"],
                     "beats": bool(model_mae < heuristic_mae) if not math.isnan(model_mae) else False}
    return {"metrics": metrics, "aggregate_normalised_mae": aggregate, "coverage": coverage,
            "target_scale": target_scale, "golden_vs_heuristic": versus}


def train_ensemble(gold: Any, cfg: ModelsConfig | None = None, heuristic: Heuristic | None = None) -> TrainedEnsemble:
    """Every member, then the ensemble: what the assets do, in one call (tests, benchmark)."""
    cfg = cfg or models_config()
    forest, _ = train_forest(gold, cfg)
    boosting = train_boosting(gold, cfg)[0] if "boosting" in cfg.ensemble.candidates else None
    tab_transformer, _ = train_tab_transformer(gold, cfg)
    autoencoder = train_autoencoder(gold, cfg)
    return assemble_ensemble(gold, forest, boosting, tab_transformer, autoencoder, cfg, heuristic)
