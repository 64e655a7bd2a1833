"""Random forests, one per target, with the per-row spread across trees.

One forest per target rather than one multi-output forest: measured rows label only some targets
(a lab run may measure energy but not rigidity), and a multi-output forest would need rows with every
label, dropping exactly the partially labelled measured rows that matter most (or imputing labels,
which would teach the model its own guesses). Per target, a forest sees every row labelled for it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rexai_assets.models.config import ForestConfig


def target_mask(Y: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The per-target label mask: the explicit one if given, else "not NaN"."""
    return ~np.isnan(Y) if mask is None else np.asarray(mask, dtype=bool)


def labelled_rows(mask: np.ndarray, j: int, target: str, member: str) -> np.ndarray:
    rows = np.flatnonzero(mask[:, j])
    if rows.size == 0:
        raise ValueError(f"{member}: target {target!r} has no labelled training rows")
    return rows


@dataclass
class ForestMember:
    """Per-target `RandomForestRegressor`s; `predict_with_spread` gives the mean and std over trees."""

    target_names: tuple[str, ...]
    forests: list
    train_seconds: float = field(default=0.0, compare=False)
    name: str = "forest"

    def tree_predictions(self, X: np.ndarray, j: int) -> np.ndarray:
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        return np.stack([tree.predict(X32, check_input=False) for tree in self.forests[j].estimators_])

    def predict_with_spread(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) over trees, each [n, n_targets]."""
        means, stds = [], []
        for j in range(len(self.target_names)):
            per_tree = self.tree_predictions(X, j)
            means.append(per_tree.mean(axis=0))
            stds.append(per_tree.std(axis=0))
        return np.column_stack(means), np.column_stack(stds)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_with_spread(X)[0]

    def state(self) -> dict:
        # train_seconds stays out: the saved bytes must depend only on data, config and seed.
        return {"target_names": list(self.target_names), "forests": self.forests}

    @classmethod
    def from_state(cls, state: dict) -> "ForestMember":
        return cls(tuple(state["target_names"]), list(state["forests"]))


def fit_forest(X: np.ndarray, Y: np.ndarray, W: np.ndarray, target_names: tuple[str, ...], cfg: ForestConfig,
               seed: int, threads: int = 1, mask: np.ndarray | None = None) -> ForestMember:
    """One forest per target on its labelled rows, weighted by `W` (label-source weights)."""
    from sklearn.ensemble import RandomForestRegressor

    started = time.perf_counter()
    mask = target_mask(Y, mask)
    forests = []
    for j, target in enumerate(target_names):
        rows = labelled_rows(mask, j, target, "forest")
        forest = RandomForestRegressor(
            n_estimators=cfg.n_estimators, min_samples_leaf=cfg.min_samples_leaf, max_features=cfg.max_features,
            max_samples=cfg.max_samples, bootstrap=True, random_state=seed + 101 * j, n_jobs=threads)
        forest.fit(X[rows], Y[rows, j], sample_weight=W[rows])
        forests.append(forest)
    return ForestMember(tuple(target_names), forests, time.perf_counter() - started)


def zero_tree_padding(obj: object) -> None:
    """Zero the padding bytes of every fitted scikit-learn tree in `obj` (an estimator, list or dict), in place.

    A tree's node records have padding bytes that nothing writes (the node memory comes from realloc),
    so two pickles of the same tree could differ. Rewriting the nodes from a zeroed array (Tree's
    __setstate__ copies whole records) makes the saved bytes depend on the tree only."""
    if isinstance(obj, dict):
        for value in obj.values():
            zero_tree_padding(value)
    elif isinstance(obj, (list, tuple, np.ndarray)) and (not isinstance(obj, np.ndarray) or obj.dtype == object):
        for value in obj:
            zero_tree_padding(value)
    elif hasattr(obj, "estimators_"):
        zero_tree_padding(list(np.ravel(np.asarray(obj.estimators_, dtype=object))))
    elif getattr(obj, "tree_", None) is not None:
        state = obj.tree_.__getstate__()
        nodes = np.zeros(state["nodes"].shape, dtype=state["nodes"].dtype)  # calloc: padding is zero
        for name in nodes.dtype.names:
            nodes[name] = state["nodes"][name]
        obj.tree_.__setstate__({**state, "nodes": nodes})


def save_sklearn_state(state: dict, path: Path) -> None:
    import joblib

    zero_tree_padding(state)
    joblib.dump(state, path, compress=3)


def load_sklearn_state(path: Path) -> dict:
    import joblib

    return joblib.load(path)
