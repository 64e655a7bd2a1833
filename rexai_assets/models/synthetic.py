"""A simulated gold set with the `GoldDataset` contract's attributes, for tests and the benchmark.

It is not the platform's gold (that is `rexai_assets.gold`); it only has the same shape: features in
a fixed order, five targets with NaN where a measured row did not measure them, label sources with
weights, train/val/test/golden splits and train-only normalisation statistics. Targets are smooth
non-linear functions of the features with heteroscedastic noise, so intervals have work to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rexai_assets.hashing import sha256_frame, sha256_json

TARGETS = ("rigidity", "tightness", "energy_kwh", "water_l", "crew_min")
SPLIT_SHARES = (("train", 0.7), ("val", 0.15), ("test", 0.05), ("golden", 0.10))


@dataclass
class SyntheticGold:
    frame: pd.DataFrame
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    feature_order_hash: str
    dataset_hash: str
    config_hash: str
    norm_mean: pd.Series
    norm_std: pd.Series
    lineage: dict = field(default_factory=dict)

    def split_frame(self, name: str) -> pd.DataFrame:
        return self.frame[self.frame["split"] == name]

    def X(self, name: str) -> np.ndarray:
        return self.split_frame(name)[list(self.feature_names)].to_numpy(dtype=np.float64)

    def Y(self, name: str) -> np.ndarray:
        return self.split_frame(name)[list(self.target_names)].to_numpy(dtype=np.float64)

    def W(self, name: str) -> np.ndarray:
        return self.split_frame(name)["weight"].to_numpy(dtype=np.float64)

    def trusted_golden(self) -> pd.DataFrame:
        golden = self.split_frame("golden")
        return golden[golden["label_source"] != "simulated"]


def gold_class() -> type:
    """The gold layer's `GoldDataset` when it is importable (same fields), else this module's double."""
    try:
        from rexai_assets.gold.dataset import GoldDataset
    except ImportError:
        return SyntheticGold
    return GoldDataset


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def make_synthetic_gold(n_rows: int = 2000, n_features: int = 12, seed: int = 0, measured_share: float = 0.1,
                        noise: float = 1.0) -> SyntheticGold:
    """`n_rows` rows; `measured_share` of them are `lab` rows labelling a random subset of the targets."""
    if n_features < 6:
        raise ValueError("make_synthetic_gold needs at least 6 features")
    rng = np.random.default_rng(seed)
    names = tuple(f"f{i:02d}" for i in range(n_features - 4)) + ("process_P01", "process_P02", "process_P03", "process_P04")
    X = rng.random((n_rows, n_features - 4))
    process = rng.integers(0, 4, n_rows)
    X = np.column_stack([X, np.eye(4)[process]])
    a, b, c, d = X[:, 0], X[:, 1], X[:, 2], X[:, 3]
    proc_cost = np.array([0.2, 1.0, 1.6, 0.1])[process]
    scale = noise * (0.5 + a)  # noise grows with f00: a per-row difficulty for the intervals to find
    Y = np.column_stack([
        _sigmoid(3 * (a - b) + 2 * c * d - 0.5 + 0.3 * scale * rng.standard_normal(n_rows)),
        _sigmoid(2 * np.sin(3 * b) + c - 1 + 0.3 * scale * rng.standard_normal(n_rows)),
        np.maximum(0.0, 1.5 + 2 * a * b + proc_cost + 0.25 * scale * rng.standard_normal(n_rows)),
        np.maximum(0.0, 0.3 + 0.8 * c ** 2 + 0.5 * (process == 2) + 0.1 * scale * rng.standard_normal(n_rows)),
        np.maximum(0.0, 20 + 15 * d + 10 * proc_cost + 3 * scale * rng.standard_normal(n_rows)),
    ])
    measured = rng.random(n_rows) < measured_share
    label_source = np.where(measured, "lab", "simulated")
    # A measured row labels each target with probability 0.6 (at least one).
    unmeasured = measured[:, None] & (rng.random((n_rows, len(TARGETS))) < 0.4)
    unmeasured[unmeasured.all(axis=1)] = False
    Y = np.where(unmeasured, np.nan, Y)
    cuts = np.cumsum([share for _, share in SPLIT_SHARES])[:-1]
    u = rng.random(n_rows)
    split = np.array([name for name, _ in SPLIT_SHARES])[np.searchsorted(cuts, u, side="right")]
    frame = pd.DataFrame(X, columns=list(names))
    frame.insert(0, "recipe_id", [f"R-{seed:04d}-{i:07d}" for i in range(n_rows)])
    frame.insert(1, "process_id", [f"P0{p + 1}" for p in process])
    frame.insert(2, "label_source", label_source)
    frame.insert(3, "split", split)
    frame.insert(4, "weight", np.where(measured, 2.0, 1.0))
    for j, target in enumerate(TARGETS):
        frame[target] = Y[:, j]
    train = frame[frame["split"] == "train"]
    return gold_class()(
        frame=frame, feature_names=names, target_names=TARGETS, feature_order_hash=sha256_json(list(names)),
        dataset_hash=sha256_frame(frame), config_hash=sha256_json({"synthetic": seed, "n": n_rows}),
        norm_mean=train[list(names)].mean(), norm_std=train[list(names)].std(ddof=0),
        lineage={"synthetic": True, "seed": seed, "rows": int(n_rows)})


def synthetic_heuristic(features: pd.DataFrame) -> pd.DataFrame:
    """A crude deterministic rule set over the synthetic features (stands in for `heuristic_props`)."""
    a, b = features["f00"].to_numpy(), features["f01"].to_numpy()
    proc = features[["process_P01", "process_P02", "process_P03", "process_P04"]].to_numpy() @ np.array([0.2, 1.0, 1.6, 0.1])
    return pd.DataFrame({
        "rigidity": np.clip(0.5 + 0.5 * (a - b), 0, 1),
        "tightness": np.full(len(features), 0.5),
        "energy_kwh": 2.0 + proc,
        "water_l": np.full(len(features), 0.7),
        "crew_min": 27.0 + 10 * proc,
    }, index=features.index)
